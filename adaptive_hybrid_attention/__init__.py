"""Adaptive Hybrid Attention: global attention that predicts the width, sharpness and position bias of a local window."""
__version__ = "0.1.0"

from .utils import masked_mean
from .span import SpanPredictor, span_window, soft_ramp, span_penalty
from .local import local_attention, local_attention_entropy, local_attention_reference, band_pairs
from .scaling import score_gain
from .temperature import temperature, sharpness, attention_entropy
from .relpos import RelativePositionBias
from .hybrid import AHAConfig, AHAOutput, AdaptiveHybridAttention
from .streaming import AHAStream  # also adds AdaptiveHybridAttention.stream

__all__ = ['AHAConfig', 'AHAOutput', 'AHAStream', 'AdaptiveHybridAttention', 'RelativePositionBias', 'SpanPredictor',
           'attention_entropy', 'band_pairs', 'local_attention', 'local_attention_entropy', 'local_attention_reference',
           'masked_mean', 'score_gain', 'sharpness', 'soft_ramp', 'span_penalty', 'span_window', 'temperature']
