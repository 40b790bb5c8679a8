"""Qt-free, torch-free core: measurement, images, project store, interchange, phantoms."""
