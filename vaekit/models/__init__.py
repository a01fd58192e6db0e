"""Models: one file per model, each registered by name."""
from vaekit.models.aae import AAE, SupervisedAAE
from vaekit.models.base import LatentVariableModel, Loss, Model
from vaekit.models.bayesian_vae import BayesianVAE
from vaekit.models.beta_tc_vae import BetaTCVAE
from vaekit.models.categorical_aae import ClusteringAAE, SemiSupervisedAAE
from vaekit.models.classifier import BayesianClassifier, Classifier
from vaekit.models.conditional_vae import ConditionalVAE
from vaekit.models.hierarchical_vae import HierarchicalVAE
from vaekit.models.iaf_vae import IAFVAE
from vaekit.models.iwae import IWAE
from vaekit.models.ladder_vae import LadderVAE
from vaekit.models.language_model import RNNLanguageModel
from vaekit.models.m1 import M1
from vaekit.models.m1_m2 import M1M2
from vaekit.models.m2 import M2
from vaekit.models.mixture_prior_vae import MixturePriorVAE
from vaekit.models.registry import MODELS, build_model, model_class, register
from vaekit.models.sentence_vae import SentenceVAE, TextModel
from vaekit.models.sequence_vae import SequenceVAE
from vaekit.models.vae import VAE
from vaekit.models.vampprior_vae import VampPriorVAE
from vaekit.models.vq_vae import VQVAE

__all__ = ["AAE", "BayesianClassifier", "BayesianVAE", "BetaTCVAE", "Classifier", "ClusteringAAE", "ConditionalVAE",
           "HierarchicalVAE", "IAFVAE", "IWAE", "LadderVAE", "LatentVariableModel", "Loss", "Model", "M1", "M1M2", "M2",
           "MODELS", "MixturePriorVAE", "RNNLanguageModel", "SemiSupervisedAAE", "SentenceVAE", "SequenceVAE",
           "SupervisedAAE", "TextModel", "VAE", "VQVAE", "VampPriorVAE", "build_model", "model_class", "register"]
