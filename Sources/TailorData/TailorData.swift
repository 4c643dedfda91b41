/// The data layer: tokenizers from `tokenizer.json`, chat templates, JSONL datasets.
///
/// It depends on Foundation only, so it can be used without the numeric core.
public enum TailorData {}
