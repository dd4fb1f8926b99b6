// A Verilator test harness for a qnnhw datapath (ports clk, rst, i__valid, i__ready,
// i__payload, o__valid, o__ready, o__payload), for runs too long for cocotb.
//
//     harness INPUTS OUTPUTS IDLE_PERCENT STALL_PERCENT SEED
//
// INPUTS holds one input payload per line in hexadecimal; the harness offers them in order,
// leaving the input idle for a cycle with probability IDLE_PERCENT / 100 and the output not
// ready with STALL_PERCENT / 100 (a xorshift generator seeded with SEED), and writes every
// output payload it takes to OUTPUTS in hexadecimal, one per line, then the cycle count.
// The comparison with the integer reference is done by the caller (sim/verify.py).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "verilated.h"
#include "Vtop.h"

// Verilator escapes the "__" of Amaranth's port names (i__valid) as "___05F".
#define I_VALID i___05Fvalid
#define I_READY i___05Fready
#define I_PAYLOAD i___05Fpayload
#define O_VALID o___05Fvalid
#define O_READY o___05Fready
#define O_PAYLOAD o___05Fpayload

namespace {

std::uint64_t state;

unsigned percent() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<unsigned>(state % 100);
}

// A payload as 32-bit words, least significant first, whatever Verilator's type for it.
using Words = std::vector<std::uint32_t>;

Words parse_hex(const std::string& text) {
    Words words;
    for (std::size_t end = text.size(); end > 0;) {
        std::size_t start = end >= 8 ? end - 8 : 0;
        words.push_back(static_cast<std::uint32_t>(
            std::stoul(text.substr(start, end - start), nullptr, 16)));
        end = start;
    }
    return words;
}

template <typename Port>
void put(Port& port, const Words& words) {
    if constexpr (std::is_integral_v<Port>) {
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < words.size() && i < 2; ++i)
            value |= static_cast<std::uint64_t>(words[i]) << (32 * i);
        port = static_cast<Port>(value);
    } else {
        for (std::size_t i = 0; i < Port::Words; ++i)
            port[i] = i < words.size() ? words[i] : 0;
    }
}

template <typename Port>
std::string hex(const Port& port) {
    Words words;
    if constexpr (std::is_integral_v<Port>) {
        std::uint64_t value = port;
        words = {static_cast<std::uint32_t>(value), static_cast<std::uint32_t>(value >> 32)};
    } else {
        for (std::size_t i = 0; i < Port::Words; ++i) words.push_back(port[i]);
    }
    std::string text;
    char buffer[9];
    bool leading = true;
    for (std::size_t i = words.size(); i-- > 0;) {
        if (leading && words[i] == 0 && i > 0) continue;
        std::snprintf(buffer, sizeof buffer, leading ? "%x" : "%08x", words[i]);
        text += buffer;
        leading = false;
    }
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s INPUTS OUTPUTS IDLE_PERCENT STALL_PERCENT SEED\n",
                     argv[0]);
        return 2;
    }
    std::vector<Words> inputs;
    {
        std::ifstream file(argv[1]);
        for (std::string line; std::getline(file, line);)
            if (!line.empty()) inputs.push_back(parse_hex(line));
    }
    const unsigned idle = std::atoi(argv[3]), stall = std::atoi(argv[4]);
    state = std::strtoull(argv[5], nullptr, 10) * 2654435761u + 1;

    VerilatedContext context;
    Vtop top{&context};
    std::ofstream outputs(argv[2]);
    top.clk = 0;
    top.rst = 1;
    for (int cycle = 0; cycle < 4; ++cycle) {
        top.clk = !top.clk;
        top.eval();
    }
    top.rst = 0;
    std::size_t sent = 0, received = 0;
    std::uint64_t cycles = 0;
    // Each cycle: drive the inputs, settle, sample the handshakes, then the rising edge.
    const std::uint64_t limit = 1000000 + 100000ull * (inputs.size() + 10);
    while (received < inputs.size()) {
        if (++cycles > limit) {
            std::fprintf(stderr, "the datapath stopped: %zu of %zu outputs after %llu cycles\n",
                         received, inputs.size(), static_cast<unsigned long long>(cycles));
            return 1;
        }
        top.I_VALID = sent < inputs.size() && percent() >= idle;
        if (sent < inputs.size()) put(top.I_PAYLOAD, inputs[sent]);
        top.O_READY = percent() >= stall;
        top.clk = 0;
        top.eval();
        const bool accepted = top.I_VALID && top.I_READY;
        if (top.O_VALID && top.O_READY) {
            outputs << hex(top.O_PAYLOAD) << '\n';
            ++received;
        }
        top.clk = 1;
        top.eval();
        if (accepted) ++sent;
    }
    outputs << "cycles " << cycles << '\n';
    top.final();
    return 0;
}
