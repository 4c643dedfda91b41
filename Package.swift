// swift-tools-version: 6.1
import PackageDescription

// Targets are layered one way:
//   COpenBLAS, CTailorKernels → TailorTensor (storage, BLAS, kernels, safetensors)
//             → TailorTape (reverse-mode tape, differentiable ops, checkpointing)
//             → TailorQuant (GGUF reader/writer, ggml block formats, NF4, quantized matrices)
//             → TailorModels (configs, Llama-family models, LoRA, adapters)
//   TailorData (tokenizers, chat templates, JSONL) depends on Foundation only.
//   TailorOptim (optimizers, schedules, clipping) → TailorTape.
//   TailorTrain (the trainer, checkpoints, metrics) → TailorModels, TailorData, TailorOptim.
//   TailorExport (merge, GGUF / HF folder / adapter / Modelfile export, parity proof) → TailorModels, TailorData.
//   Tailor re-exports the public modules; TailorCLI is the thin `tailor` command.
let package = Package(
    name: "Tailor",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Tailor", targets: ["Tailor"]),
        .executable(name: "tailor", targets: ["TailorCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: Implementation details
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"]), .brew(["openblas"])]
        ),

        // AVX2, AVX-512 and AMX kernels in C, dispatched at run time (x86-64; elsewhere the Swift loops run).
        .target(name: "CTailorKernels"),

        // MARK: Library
        .target(name: "TailorTensor", dependencies: ["COpenBLAS", "CTailorKernels"]),
        .target(name: "TailorTape", dependencies: ["TailorTensor"]),
        .target(name: "TailorQuant", dependencies: ["TailorTensor", "TailorTape"]),
        .target(name: "TailorModels", dependencies: ["TailorTensor", "TailorTape", "TailorQuant", "TailorData"]),
        .target(name: "TailorData"),
        .target(name: "TailorOptim", dependencies: ["TailorTensor", "TailorTape"]),
        .target(name: "TailorTrain", dependencies: ["TailorTensor", "TailorTape", "TailorQuant", "TailorModels", "TailorData", "TailorOptim"]),
        .target(name: "TailorExport", dependencies: ["TailorTensor", "TailorTape", "TailorQuant", "TailorModels", "TailorData"]),
        .target(name: "Tailor", dependencies: ["TailorTensor", "TailorTape", "TailorQuant", "TailorModels", "TailorData", "TailorOptim", "TailorTrain", "TailorExport"]),

        // MARK: Command line
        .executableTarget(
            name: "TailorCLI",
            dependencies: [
                "Tailor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // MARK: Tests
        .target(name: "TailorTestSupport", dependencies: ["TailorTensor", "TailorTape", "TailorModels", "TailorData"], path: "Tests/TailorTestSupport"),
        .testTarget(name: "TailorTensorTests", dependencies: ["TailorTensor", "TailorTestSupport"]),
        .testTarget(name: "TailorQuantTests", dependencies: ["TailorQuant", "TailorTape", "TailorTestSupport"]),
        .testTarget(name: "TailorTapeTests", dependencies: ["TailorTape", "TailorTestSupport"]),
        .testTarget(name: "TailorModelsTests", dependencies: ["TailorModels", "TailorTestSupport"]),
        .testTarget(name: "TailorDataTests", dependencies: ["TailorData"]),
        .testTarget(name: "TailorOptimTests", dependencies: ["TailorOptim", "TailorTestSupport"]),
        .testTarget(name: "TailorTrainTests", dependencies: ["TailorTrain", "TailorTestSupport"]),
        .testTarget(name: "TailorExportTests", dependencies: ["TailorExport", "TailorTestSupport"]),
        .testTarget(name: "TailorCLITests", dependencies: ["TailorCLI", "TailorTestSupport"]),
    ]
)
