"""Likelihoods and priors beyond torch's own."""
from vaekit.distributions.discretized_logistic import DiscretizedLogisticMixture
from vaekit.distributions.likelihoods import Likelihood, make_likelihood

__all__ = ["DiscretizedLogisticMixture", "Likelihood", "make_likelihood"]
