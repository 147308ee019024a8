"""Adaptive Hybrid Attention: global attention that predicts the width, sharpness and position bias of a local window."""
__version__ = "0.1.0"

from .span import SpanPredictor, span_window, soft_ramp, span_penalty
from .local import local_attention, local_attention_reference
from .scaling import score_gain
from .temperature import temperature, sharpness, attention_entropy
from .relpos import RelativePositionBias
from .hybrid import AHAConfig, AdaptiveHybridAttention

__all__ = ['AHAConfig', 'AdaptiveHybridAttention', 'RelativePositionBias', 'SpanPredictor', 'attention_entropy',
           'local_attention', 'local_attention_reference', 'score_gain', 'sharpness', 'soft_ramp', 'span_penalty',
           'span_window', 'temperature']
