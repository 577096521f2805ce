"""The LCE paper's two figures, measured on the user's own device.

``lce-nas report`` times the four 3x3 convolutional blocks of a ResNet-18 as
float32, int8 and binary models (the speed-up of binarization) and splits the
latency of QuickNetLarge, Real-to-Binary Net and BinaryDenseNet into first
layer, binary convolutions, glue and last layer; every measurement goes
through the device's own timer into the latency database.
"""
