"""Amaranth gateware: the streaming bilinear datapath, its arithmetic, UART and framing."""
