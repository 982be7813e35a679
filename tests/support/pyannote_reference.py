"""pyannote.audio's own SpeakerDiarization pipeline with the neural diarizer's models and settings.

The reference the lean port (engines/diarization/neural_pipeline.py, ahc.py, segmentation_model.py)
is checked against: pyannote's `apply`, `get_embeddings`, `reconstruct` and clustering unchanged,
with CAM++ in place of its embedding model (its constructor would resolve one by hub name, so the
attributes it sets are set here). Tests and benchmarks only: importing pyannote.audio costs the
process ~390 MB (lightning), which is why the engine does not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def reference_pipeline(segmentation_path: Path, embedding: Any, config: Any) -> Any:
    """`config`: a NeuralDiarizerConfig (step, detection biases, overlap exclusion, threshold,
    min_cluster_size, batch sizes)."""
    os.environ["PYANNOTE_METRICS_ENABLED"] = "false"  # pyannote 4 sends telemetry unless told not to
    from pyannote.audio import Audio, Inference, Model
    from pyannote.audio import Pipeline as AudioPipeline
    from pyannote.audio.pipelines.clustering import AgglomerativeClustering
    from pyannote.audio.pipelines.speaker_diarization import SpeakerDiarization
    from pyannote.pipeline.parameter import ParamDict, Uniform

    class _CamPlusPipeline(SpeakerDiarization):
        def __init__(self, segmentation: Any) -> None:
            AudioPipeline.__init__(self)
            self.legacy = False
            self.segmentation_model = segmentation
            self.segmentation_step = config.segmentation_step
            self.embedding = "campplus"
            self.embedding_batch_size = config.embedding_batch_size
            self.embedding_exclude_overlap = config.embedding_exclude_overlap
            self.plda = None
            self._plda = None
            self.klustering = "AgglomerativeClustering"
            self.der_variant = {"collar": 0.0, "skip_overlap": False}
            duration = segmentation.specifications.duration
            self._segmentation = Inference(
                segmentation,
                duration=duration,
                step=config.segmentation_step * duration,
                skip_aggregation=True,
                batch_size=config.segmentation_batch_size,
            )
            self.segmentation = ParamDict(min_duration_off=Uniform(0.0, 1.0))
            self._embedding = embedding
            self._audio = Audio(sample_rate=embedding.sample_rate, mono="downmix")
            self.clustering = AgglomerativeClustering(metric=embedding.metric)
            self._expects_num_speakers = False

    model = Model.from_pretrained(str(segmentation_path))
    _add_class_biases(model, config.speech_bias, config.overlap_bias)
    pipeline = _CamPlusPipeline(model.eval())
    pipeline.instantiate(
        {
            "segmentation": {"min_duration_off": config.min_duration_off},
            "clustering": {
                "method": config.linkage,
                "threshold": config.threshold,
                "min_cluster_size": config.min_cluster_size,
            },
        }
    )
    return pipeline


def _add_class_biases(model: Any, speech_bias: float, overlap_bias: float) -> None:
    """The engine's detection biases (SegmentationModel.binarize) in pyannote's own model: adding a
    constant to a class's logit is adding it to the classifier's bias for that class, and pyannote's
    powerset Inference takes the argmax of the log-softmax, which a per-frame shift leaves alone."""
    import torch
    from pyannote.audio.utils.powerset import Powerset

    specs = model.specifications
    mapping = Powerset(len(specs.classes), specs.powerset_max_classes).mapping
    sizes = mapping.sum(dim=1)
    with torch.no_grad():
        model.classifier.bias += speech_bias * (sizes > 0) + overlap_bias * (sizes > 1)


def annotation_tracks(annotation: Any) -> list[tuple[float, float, Any]]:
    return sorted((s.start, s.end, label) for s, _, label in annotation.itertracks(yield_label=True))
