import Foundation

/// The examples of one dataset file, tokenized and masked.
public struct LoadedDataset: Sendable {
    /// One example per record, in file order, truncated to ``DatasetOptions/maxLength``.
    public var examples: [TokenizedExample]
    /// Per example, the string that was tokenized (the rendered conversation for chat data), before truncation.
    public var texts: [String]
    /// The format of the file's records.
    public var format: DatasetFormat
    /// How many examples were cut to ``DatasetOptions/maxLength``.
    public var truncated: Int
    /// Lines left out with ``DatasetOptions/skipBad``, with why.
    public var skipped: [SkippedLine]

    /// A line left out of a dataset.
    public struct SkippedLine: Sendable, Equatable {
        /// `path:line`.
        public let location: String
        /// What was wrong with it.
        public let reason: String
    }

    /// Tokens in all examples.
    public var totalTokens: Int { examples.reduce(0) { $0 + $1.ids.count } }
    /// Trained (loss) positions in all examples; see ``TokenizedExample/trainedTokens``.
    public var trainedTokens: Int { examples.reduce(0) { $0 + $1.trainedTokens } }
}

extension DatasetEncoder {
    /// Reads, validates and encodes a dataset file: JSON Lines (one JSON object per line), or one JSON array of
    /// objects when the file starts with `[` (as `alpaca_data.json` does), whatever its extension.
    ///
    /// - Lines are split on `\n` (a trailing `\r` is JSON whitespace); a UTF-8 byte order mark at the start of the
    ///   file is ignored. Lines holding only whitespace are skipped wherever they are, but still counted, so
    ///   `path:line` in messages is the line an editor shows. In an array, a record's `path:line` is the line
    ///   where it starts.
    /// - Without ``DatasetOptions/format`` the format is detected from each record's keys; all records must agree.
    /// - Every problem — malformed JSON, invalid UTF-8, a NUL byte, a non-object line, a missing, empty or
    ///   mistyped field, an unknown role, a conversation without an assistant turn, mixed formats, a template
    ///   error — throws ``DatasetError`` at `path:line`, or with ``DatasetOptions/skipBad`` is recorded in
    ///   ``LoadedDataset/skipped``. Problems that are not a line's fault (no chat template, no EOS token) always
    ///   throw. An empty file, a file of blank lines, or one where every line was skipped throws.
    ///
    /// The file is memory-mapped and encoded in parallel chunks; the result does not depend on the thread count.
    /// - Parameters:
    ///   - file: The `.jsonl` file.
    ///   - options: Format, key remapping, mask mode, skipping and truncation.
    /// - Returns: The examples and statistics.
    /// - Throws: ``DatasetError``.
    public func load(_ file: URL, options: DatasetOptions = DatasetOptions()) throws -> LoadedDataset {
        let path = file.path
        let data: Data
        do {
            data = try Data(contentsOf: file, options: .mappedIfSafe)
        } catch {
            throw DatasetError(location: path, message: "cannot read file (\(error.localizedDescription))")
        }
        let split: RecordRanges
        do { split = try data.withUnsafeBytes { try RecordRanges(UnsafeRawBufferPointer($0)) } } catch let error as LocatedRecordError {
            throw DatasetError(location: "\(path):\(error.line)", message: error.message)
        }
        let lines = split.records
        guard !data.isEmpty else {
            throw DatasetError(location: "\(path):1", message: "the file is empty; expected one JSON object per line (or a JSON array of objects)")
        }
        guard !lines.isEmpty else {
            throw DatasetError(location: "\(path):1", message: "the file has only blank lines; expected one JSON object per line (or a JSON array of objects)")
        }

        // Parse, detect and encode each line; lines are independent, so chunks run in parallel.
        var results = [LineResult?](repeating: nil, count: lines.count)
        let chunk = 256
        let chunks = (lines.count + chunk - 1) / chunk
        data.withUnsafeBytes { raw in
            let buffer = UnsafeRawBufferPointer(raw)
            results.withUnsafeMutableBufferPointer { out in
                let out = UncheckedSendable(out), buffer = UncheckedSendable(buffer)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    for i in (c * chunk)..<min(lines.count, (c + 1) * chunk) {
                        let r = lines[i]
                        out.value[i] = encodeLine(UnsafeRawBufferPointer(rebasing: buffer.value[r.range]),
                                                  options: options, source: "\(path):\(r.line)", start: (r.line, r.column))
                    }
                }
            }
        }

        // Sequential pass: format agreement, errors in line order, truncation.
        var dataset = LoadedDataset(examples: [], texts: [], format: options.format ?? .text, truncated: 0, skipped: [])
        var fileFormat: (format: DatasetFormat, line: Int)?
        dataset.examples.reserveCapacity(lines.count)
        dataset.texts.reserveCapacity(lines.count)
        for (i, result) in results.enumerated() {
            let number = lines[i].line, location = "\(path):\(number)"
            var failure: RecordError?
            switch result! {
            case .failure(let e): failure = e
            case .success(let format, var example, let text):
                if options.format == nil, let first = fileFormat, first.format != format {
                    let (this, that) = split.isArray ? ("record", "the record at line") : ("line", "line")
                    failure = RecordError("this \(this) is in \(format.label) format but \(that) \(first.line) is in "
                                          + "\(first.format.label) format; one file must use one format")
                } else {
                    if fileFormat == nil { fileFormat = (format, number) }
                    if let max = options.maxLength, example.truncate(to: max) { dataset.truncated += 1 }
                    dataset.examples.append(example)
                    dataset.texts.append(text)
                }
            }
            if let failure {
                if failure.fatal || !options.skipBad { throw DatasetError(location: location, message: failure.message) }
                dataset.skipped.append(.init(location: location, reason: failure.message))
            }
        }
        guard let fileFormat else {
            let first = dataset.skipped.first.map { " (first: \($0.location): \($0.reason))" } ?? ""
            throw DatasetError(location: path, message: "no usable examples: all \(lines.count) \(split.isArray ? "records" : "lines") were skipped\(first)")
        }
        dataset.format = fileFormat.format
        return dataset
    }

    enum LineResult {
        case success(DatasetFormat, TokenizedExample, String)
        case failure(RecordError)
    }

    /// Parses, validates and encodes one record (a line, or an element of an array starting at `start`).
    func encodeLine(_ bytes: UnsafeRawBufferPointer, options: DatasetOptions, source: String, start: (line: Int, column: Int) = (1, 1)) -> LineResult {
        do {
            if let nul = bytes.firstIndex(of: 0) {
                let column = bytes[..<nul].reduce(1) { $1 & 0xC0 != 0x80 ? $0 + 1 : $0 }
                throw RecordError("contains a NUL byte at column \(column)")
            }
            let value: JSONValue
            do {
                value = try JSONValue(parsing: bytes)
            } catch let e as JSONParseError {
                // A line's error at its column; a multi-line record's at the file's line and column.
                guard e.line > 1 || start.column > 1 else { throw RecordError("invalid JSON: \(e.message) at column \(e.column)") }
                let column = e.line == 1 ? start.column + e.column - 1 : e.column
                throw RecordError("invalid JSON: \(e.message) at line \(start.line + e.line - 1), column \(column)")
            }
            guard case .object(let object) = value else {
                throw RecordError("expected a JSON object, got \(typeName(value))")
            }
            let format = try options.format ?? DatasetRecord.detect(object, options: options)
            let record = try DatasetRecord(object, format: format, options: options)
            let (example, text) = try encode(record, mask: options.mask, source: source)
            return .success(format, example, text)
        } catch let e as RecordError {
            return .failure(e)
        } catch {
            return .failure(RecordError("\(error)"))
        }
    }
}

/// Lets `concurrentPerform` closures write disjoint elements of a buffer.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
