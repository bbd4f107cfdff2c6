"""Reference GAN and VAE models, small enough for a CPU and faithful to their papers.

>>> from gandiag.reference_models import build_model, list_models
>>> bundle = build_model("dcgan", image_size=32, channels=1, latent_dim=64)  # doctest: +SKIP
>>> bundle.generator, bundle.discriminator, bundle.kind  # doctest: +SKIP

``gandiag list-models`` prints the registry with each model's options and training
defaults. Objectives and regularisers live in :mod:`gandiag.reference_models.losses`.

Layout: this package lives at the top of the repository as ``reference_models/`` and installs as
``gandiag.reference_models`` (``package-dir`` in pyproject.toml); the symlink
``gandiag/reference_models`` makes ``import gandiag.reference_models`` resolvable from a checkout too.
"""

from gandiag.reference_models import dvdgan as _dvdgan  # noqa: F401  (registers dvdgan)
from gandiag.reference_models import growing as _growing  # noqa: F401  (and the growing families)
from gandiag.reference_models import translation as _translation  # noqa: F401
from gandiag.reference_models import zoo as _zoo  # noqa: F401  (registers the models)
from gandiag.reference_models.registry import (
    MODELS,
    ModelBundle,
    ModelSpec,
    build_model,
    get_spec,
    list_models,
    register_model,
)

__all__ = [
    "MODELS",
    "ModelBundle",
    "ModelSpec",
    "build_model",
    "get_spec",
    "list_models",
    "register_model",
]
