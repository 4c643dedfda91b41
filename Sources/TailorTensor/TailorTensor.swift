// TailorTensor
