"""Feature extractors: images -> feature matrices for the metrics, behind one registry.

>>> ext = get_extractor("glyph")            # doctest: +SKIP
>>> feats = ext(images)                     # [N, 128] float32
"""

from gandiag.features.base import EXTRACTORS, FeatureExtractor, get_extractor, register_extractor
from gandiag.features.glyph import (
    GLYPH_CLASSIFIER_SHA256,
    GlyphClassifier,
    GlyphExtractor,
    load_glyph_classifier,
)
from gandiag.features.inception import InceptionExtractor, clean_resize
from gandiag.features.simple import IdentityExtractor, ModuleExtractor

__all__ = [
    "EXTRACTORS",
    "GLYPH_CLASSIFIER_SHA256",
    "FeatureExtractor",
    "GlyphClassifier",
    "GlyphExtractor",
    "IdentityExtractor",
    "InceptionExtractor",
    "ModuleExtractor",
    "clean_resize",
    "get_extractor",
    "load_glyph_classifier",
    "register_extractor",
]
