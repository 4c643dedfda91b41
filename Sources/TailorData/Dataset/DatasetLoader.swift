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
    /// Reads, validates and encodes a JSONL file: one JSON object per line.
    ///
    /// - Lines are split on `\n` (a trailing `\r` is JSON whitespace); a UTF-8 byte order mark at the start of the
    ///   file is ignored. Lines holding only whitespace are skipped wherever they are, but still counted, so
    ///   `path:line` in messages is the line an editor shows.
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
        let lines = data.withUnsafeBytes { Self.lineRanges(UnsafeRawBufferPointer($0)) }
        guard !data.isEmpty else {
            throw DatasetError(location: "\(path):1", message: "the file is empty; expected one JSON object per line")
        }
        guard !lines.isEmpty else {
            throw DatasetError(location: "\(path):1", message: "the file has only blank lines; expected one JSON object per line")
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
                        let (number, range) = lines[i]
                        out.value[i] = encodeLine(UnsafeRawBufferPointer(rebasing: buffer.value[range]),
                                                  options: options, source: "\(path):\(number)")
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
            let number = lines[i].number, location = "\(path):\(number)"
            var failure: RecordError?
            switch result! {
            case .failure(let e): failure = e
            case .success(let format, var example, let text):
                if options.format == nil, let first = fileFormat, first.format != format {
                    failure = RecordError("this line is in \(format.label) format but line \(first.line) is in "
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
            throw DatasetError(location: path, message: "no usable examples: all \(lines.count) lines were skipped\(first)")
        }
        dataset.format = fileFormat.format
        return dataset
    }

    enum LineResult {
        case success(DatasetFormat, TokenizedExample, String)
        case failure(RecordError)
    }

    /// Parses, validates and encodes one line.
    func encodeLine(_ bytes: UnsafeRawBufferPointer, options: DatasetOptions, source: String) -> LineResult {
        do {
            if let nul = bytes.firstIndex(of: 0) {
                let column = bytes[..<nul].reduce(1) { $1 & 0xC0 != 0x80 ? $0 + 1 : $0 }
                throw RecordError("contains a NUL byte at column \(column)")
            }
            let value: JSONValue
            do {
                value = try JSONValue(parsing: bytes)
            } catch let e as JSONParseError {
                throw RecordError("invalid JSON: \(e.message) at column \(e.column)")
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

    /// The non-blank lines of `buffer`: 1-based line number and byte range (without the `\n`, BOM removed).
    static func lineRanges(_ buffer: UnsafeRawBufferPointer) -> [(number: Int, range: Range<Int>)] {
        var out: [(number: Int, range: Range<Int>)] = []
        let n = buffer.count
        guard n > 0, let base = buffer.baseAddress else { return out }
        var start = n >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF ? 3 : 0
        var number = 0
        while start < n {
            number += 1
            let end = memchr(base + start, 0x0A, n - start).map { UnsafeRawPointer($0) - base } ?? n
            var blank = true
            for i in start..<end where !(buffer[i] == 0x20 || buffer[i] == 0x09 || buffer[i] == 0x0D) {
                blank = false
                break
            }
            if !blank { out.append((number, start..<end)) }
            start = end + 1
        }
        return out
    }
}

/// Lets `concurrentPerform` closures write disjoint elements of a buffer.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
