/// Tailor: LoRA and QLoRA fine-tuning of Llama-family models on a CPU.
///
/// `import Tailor` brings in every public module: tensors and kernels, the tape,
/// models and adapters, and the data layer.
@_exported import TailorData
@_exported import TailorOptim
@_exported import TailorTrain
@_exported import TailorModels
@_exported import TailorTape
@_exported import TailorQuant
@_exported import TailorExport
@_exported import TailorTensor
