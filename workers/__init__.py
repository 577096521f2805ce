"""Ray workers: the proxy trainer, device workers that own their device, and datasets."""
