import Foundation
import TailorData
import TailorQuant
import TailorTensor

/// An Ollama `Modelfile` for an exported GGUF: `FROM`, `ADAPTER` for an adapter export, a
/// `TEMPLATE` translated from the model's Jinja chat template for the families Tailor
/// recognises, and `PARAMETER stop` for their end-of-turn markers.
public enum Modelfile {
    /// Chat-template families with a known Ollama translation.
    public enum Family: String, Sendable, CaseIterable {
        case chatml, llama3, llama2, mistral, zephyr
    }

    /// Recognises a family from the Jinja source by its markers; nil when unknown.
    public static func family(of template: String) -> Family? {
        if template.contains("<|start_header_id|>") { return .llama3 }
        if template.contains("<|im_start|>") { return .chatml }
        if template.contains("<|user|>") && template.contains("<|assistant|>") { return .zephyr }
        if template.contains("[INST]") { return template.contains("<<SYS>>") ? .llama2 : .mistral }
        return nil
    }

    /// The Ollama (Go text/template) template of a family.
    public static func template(_ f: Family) -> String {
        switch f {
        case .chatml:
            return """
            {{- range .Messages }}<|im_start|>{{ .Role }}
            {{ .Content }}<|im_end|>
            {{ end }}<|im_start|>assistant

            """
        case .llama3:
            return """
            {{- if .System }}<|start_header_id|>system<|end_header_id|>

            {{ .System }}<|eot_id|>{{ end }}
            {{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

            {{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>


            """
        case .llama2:
            return "[INST] {{ if .System }}<<SYS>>\n{{ .System }}\n<</SYS>>\n\n{{ end }}{{ .Prompt }} [/INST]"
        case .mistral:
            return "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }} [/INST]"
        case .zephyr:
            return "{{ if .System }}<|system|>\n{{ .System }}</s>\n{{ end }}<|user|>\n{{ .Prompt }}</s>\n<|assistant|>\n"
        }
    }

    /// End-of-turn strings for `PARAMETER stop`.
    public static func stops(_ f: Family) -> [String] {
        switch f {
        case .chatml: ["<|im_start|>", "<|im_end|>"]
        case .llama3: ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        case .llama2: ["[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"]
        case .mistral: ["[INST]", "[/INST]"]
        case .zephyr: ["<|system|>", "<|user|>", "<|assistant|>", "</s>"]
        }
    }

    /// The Modelfile text. `from` is the base (a path relative to the Modelfile or an Ollama model
    /// name); `adapter` the adapter GGUF, if any; `chatTemplate` the Jinja source, if any.
    /// Returns the text and the recognised family (nil: no TEMPLATE written).
    public static func render(from: String, adapter: String?, chatTemplate: String?) -> (text: String, family: Family?) {
        var lines = ["FROM \(from)"]
        if let adapter { lines.append("ADAPTER \(adapter)") }
        let fam = chatTemplate.flatMap(family(of:))
        if let fam {
            lines.append("TEMPLATE \"\"\"\(template(fam))\"\"\"")
            for s in stops(fam) { lines.append("PARAMETER stop \"\(s)\"") }
        }
        return (lines.joined(separator: "\n") + "\n", fam)
    }

    /// The Jinja chat template of a model, for the `TEMPLATE` line: a GGUF file's
    /// `tokenizer.chat_template`, or a Hugging Face folder's `chat_template.jinja` (else
    /// `tokenizer_config.json`'s `chat_template`). Nil when the model has none.
    public static func chatTemplateSource(model: URL) throws -> String? {
        guard model.pathExtension.lowercased() == "gguf" else { return try ChatTemplate.loadSource(modelDirectory: model)?.source }
        // Only the metadata is read (the file is memory-mapped; no tensor is touched).
        let file = try GGUFFile(path: model.path)
        guard let value = file.metadata["tokenizer.chat_template"] else { return nil }
        guard let source = value.string else { throw TailorError("\(model.path): tokenizer.chat_template is not a string") }
        return source
    }
}
