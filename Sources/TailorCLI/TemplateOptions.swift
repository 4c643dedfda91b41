import ArgumentParser
import Tailor

/// `--template-kwargs` for the commands that render a chat template on a loaded model (`eval`, `generate`).
struct TemplateOptions: ParsableArguments {
    static let help: ArgumentHelp = "Chat-template variables as a JSON object, like apply_chat_template's keyword arguments, e.g. '{\"enable_thinking\": false}' for Qwen3."
    @Option(help: Self.help) var templateKwargs: String?

    /// Gives the bundle's chat template these variables.
    func apply(to bundle: inout ModelBundle) throws {
        try bundle.setTemplateVariables(json: templateKwargs, source: "--template-kwargs")
    }
}
