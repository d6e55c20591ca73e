"""Training data: COCO keypoint dataset, CenterNet augmentation, target codec, synthetic figures."""
