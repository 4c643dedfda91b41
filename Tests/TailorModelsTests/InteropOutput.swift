import Foundation
import Testing
import TailorModels
import TailorTestSupport

/// Writes a Tailor-saved adapter (non-zero B, rank pattern) for the PEFT interop check when
/// `TAILOR_INTEROP_DIR` is set: `.venv/bin/python Tests/Fixtures/check_peft_loads.py` then loads it.
@Test func writeAdapterForPEFTInterop() throws {
    guard let out = ProcessInfo.processInfo.environment["TAILOR_INTEROP_DIR"] else { return }
    let model = try LlamaModel(folder: fixture("models/mistral-mqa/model"))
    try model.addAdapters(LoRAConfiguration(rank: 4, alpha: 8, useRSLoRA: true, targets: [.q, .v, .gate], rankPattern: ["v_proj": 2]), seed: 3)
    var rng = TestRandom(seed: 9)
    for l in model.adaptedLayers { for i in 0..<l.lora!.b.value.count { l.lora!.b.value[i] = rng.uniform(-0.1, 0.1) } }
    try PEFTAdapter.save(model, config: LoRAConfiguration(rank: 4, alpha: 8, useRSLoRA: true, targets: [.q, .v, .gate], rankPattern: ["v_proj": 2]),
                         to: URL(fileURLWithPath: out))
}
