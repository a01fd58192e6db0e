"""Building blocks: networks that return parameters (the models build distributions from them)."""
from vaekit.nn.conv import ConvDecoder, ConvEncoder
from vaekit.nn.mlp import ACTIVATIONS, mlp

__all__ = ["ACTIVATIONS", "ConvDecoder", "ConvEncoder", "mlp"]
