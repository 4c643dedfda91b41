import Foundation
import TailorData
import TailorModels
import TailorTensor

/// The tokenized training and validation sets of a run, built from `--data` exactly as the
/// dataset layer defines (see ``DatasetEncoder``), truncated to `--max-seq`.
public struct TrainingData: Sendable {
    public var train: [TokenizedExample]
    public var valid: [TokenizedExample]
    /// Examples cut to `--max-seq`.
    public var truncated: Int
    /// Lines skipped with `--skip-bad`, as `file:line: reason`.
    public var skipped: [String]
    /// Where the validation set came from.
    public var validSource: String
    /// The training file's record format (given, or detected from its lines).
    public var format: DatasetFormat

    public var trainTokens: Int { train.reduce(0) { $0 + $1.ids.count } }
    public var trainedTokens: Int { train.reduce(0) { $0 + $1.trainedTokens } }

    /// One line for the log.
    public var summary: String {
        let share = trainTokens > 0 ? 100 * Double(trainedTokens) / Double(trainTokens) : 0
        return String(format: "data: %d train examples (%@ format, %d tokens, %.0f%% trained), %d valid (%@), %d truncated, "
                      + "%d bad lines skipped", train.count, format.label, trainTokens, share, valid.count, validSource, truncated,
                      skipped.count)
    }

    /// Loads `c.data` (and `c.validData`, or `valid.jsonl` beside it, or a seeded split).
    public static func load(_ c: TrainingConfiguration, bundle: ModelBundle) throws -> TrainingData {
        let tokenizer = try bundle.requireTokenizer()
        let encoder = DatasetEncoder(tokenizer: tokenizer, template: bundle.template, templateProblem: bundle.templateProblem,
                                     config: bundle.tokenizerConfig)
        let options = try datasetOptions(c)
        let files = try DatasetFiles.resolve(URL(fileURLWithPath: c.data))
        let train = try encoder.load(files.train, options: options)
        var validFile = files.valid
        if let v = c.validData { validFile = URL(fileURLWithPath: v) }
        var trainExamples = train.examples, valid: [TokenizedExample] = [], source: String
        var truncated = train.truncated
        var skipped = train.skipped.map { "\($0.location): \($0.reason)" }
        if let validFile {
            let v = try encoder.load(validFile, options: options)
            valid = v.examples; truncated += v.truncated
            skipped += v.skipped.map { "\($0.location): \($0.reason)" }
            source = validFile.lastPathComponent
        } else if c.validSplit > 0 {
            (trainExamples, valid) = splitValidation(trainExamples, fraction: c.validSplit, seed: c.seed)
            source = String(format: "%.0f%% split of the training file", c.validSplit * 100)
        } else {
            source = "none"
        }
        let vocab = bundle.model.configuration.vocabularySize
        for e in trainExamples + valid {
            if let bad = e.ids.first(where: { $0 >= vocab }) {
                throw TailorError("\(e.source): token id \(bad) is outside the model's vocabulary (\(vocab)): tokenizer and model do not match")
            }
        }
        return TrainingData(train: trainExamples, valid: valid, truncated: truncated, skipped: skipped, validSource: source,
                            format: train.format)
    }
}

extension TrainingData {
    /// The examples of one file for `tailor eval`: a `.jsonl`, or a folder's `valid.jsonl`
    /// (else its `train.jsonl`), built and truncated as training builds them.
    public static func evaluationExamples(_ c: TrainingConfiguration, file: String, bundle: ModelBundle) throws -> [TokenizedExample] {
        let tokenizer = try bundle.requireTokenizer()
        let encoder = DatasetEncoder(tokenizer: tokenizer, template: bundle.template, templateProblem: bundle.templateProblem,
                                     config: bundle.tokenizerConfig)
        let options = try datasetOptions(c)
        let files = try DatasetFiles.resolve(URL(fileURLWithPath: file))
        return try encoder.load(files.valid ?? files.train, options: options).examples
    }

    /// The dataset options a configuration implies (format names and keys are checked when set).
    static func datasetOptions(_ c: TrainingConfiguration) throws -> DatasetOptions {
        let keys = try DatasetOptions.keys((c.keys ?? "").split(separator: ","), source: "keys")
        return DatasetOptions(format: c.format.flatMap { DatasetFormat(name: $0) }, keys: keys,
                              mask: c.mask == "all" ? .all : .completions, skipBad: c.skipBad, maxLength: c.maxSeq)
    }
}
