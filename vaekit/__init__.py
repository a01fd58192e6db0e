"""vaekit: variational autoencoders and their relatives, correct to the papers and fast on a CPU."""
from vaekit.codec import CodecError, compress, decompress  # noqa: E402
from vaekit.config import ConfigError, DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from vaekit.data import load_data  # noqa: E402
from vaekit.models import VAE, LatentVariableModel  # noqa: E402
from vaekit.saving import ModelFileError, load  # noqa: E402
from vaekit.saving import save_model as save  # noqa: E402
from vaekit.train import fit  # noqa: E402
from vaekit.version import __version__  # noqa: F401

__all__ = ["VAE", "CodecError", "ConfigError", "DataConfig", "EvalConfig", "LatentVariableModel", "ModelConfig",
           "ModelFileError", "RunConfig", "TrainConfig", "compress", "decompress", "fit", "load",
           "load_data", "save"]
