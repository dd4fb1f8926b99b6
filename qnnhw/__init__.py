"""qnnhw: provably near-optimal ±1 neural networks, from data to FPGA bitstream.

Packages: ``qnnhw`` (data, training, model file, fixed point, integer reference, flow, CLI),
``qnnhw.hdl`` (Amaranth gateware), ``qnnhw.sim`` (cocotb + Verilator benches),
``qnnhw.boards`` (board registry and top-level wrappers).
"""

from .errors import QnnhwError
from .estimator import BinaryBilinearNetwork
from .model import BilinearModel

__all__ = ["BilinearModel", "BinaryBilinearNetwork", "QnnhwError", "__version__"]

__version__ = "0.1.0"
