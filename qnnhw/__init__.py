"""qnnhw: provably near-optimal ±1 neural networks, from data to FPGA bitstream.

Two model families: ±1 bilinear networks trained by the SDP (Bartan & Pilanci, 2021) and
threshold networks trained by the convex Lasso (Ergen et al., 2023).

Packages: ``qnnhw`` (data, training, model file, fixed point, integer reference, flow, CLI),
``qnnhw.hdl`` (Amaranth gateware), ``qnnhw.sim`` (cocotb + Verilator benches),
``qnnhw.boards`` (board registry and top-level wrappers).
"""

from .errors import QnnhwError
from .estimator import BinaryBilinearNetwork, ThresholdNetwork
from .model import BilinearModel, ThresholdModel, load_model

__all__ = ["BilinearModel", "BinaryBilinearNetwork", "QnnhwError", "ThresholdModel",
           "ThresholdNetwork", "__version__", "load_model"]

__version__ = "0.1.0"
