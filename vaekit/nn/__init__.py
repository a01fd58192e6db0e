"""Building blocks: networks that return parameters (the models build distributions from them)."""
from vaekit.nn.conv import ConvDecoder, ConvEncoder
from vaekit.nn.data_nets import data_decoder, data_encoder
from vaekit.nn.mlp import ACTIVATIONS, mlp
from vaekit.nn.own_networks import AnyLeadingDims, checked_network

__all__ = ["ACTIVATIONS", "AnyLeadingDims", "ConvDecoder", "ConvEncoder", "checked_network", "data_decoder",
           "data_encoder", "mlp"]
