import Foundation
import TailorTensor

extension LlamaModel {
    /// Files of a model folder that travel with its weights (tokenizer, template, configs).
    public static let companionFiles = [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "chat_template.jinja", "tokenizer.model",
    ]

    /// Writes this model's weights as a Hugging Face folder: `model.safetensors` (fp32, or the
    /// given dtype) plus the companion files copied from `source` (config, tokenizer, template).
    /// A tied head is written once, as the embedding, like transformers does.
    public func save(to folder: URL, copyingFrom source: URL?, dtype: SafetensorsDType = .f32) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        try SafetensorsWriter.write(baseParameters.map { ($0.name, $0.value) }, dtype: dtype,
                                    to: folder.appendingPathComponent("model.safetensors"))
        guard let source, source.standardizedFileURL != folder.standardizedFileURL else { return }
        for name in Self.companionFiles {
            let from = source.appendingPathComponent(name)
            guard let data = fm.contents(atPath: from.path) else { continue }
            try AtomicFile.write(data, to: folder.appendingPathComponent(name))
        }
    }
}
