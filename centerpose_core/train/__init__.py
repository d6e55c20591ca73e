"""Training: config, the plain training loop (single process or torchrun/DDP) and COCO keypoint evaluation."""
