"""Building blocks: networks that return parameters (the models build distributions from them)."""
from vaekit.nn.conv import ConvDecoder, ConvEncoder
from vaekit.nn.data_nets import data_decoder, data_encoder
from vaekit.nn.mlp import ACTIVATIONS, mlp

__all__ = ["ACTIVATIONS", "ConvDecoder", "ConvEncoder", "data_decoder", "data_encoder", "mlp"]
