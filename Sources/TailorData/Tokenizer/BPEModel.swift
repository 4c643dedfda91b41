import Foundation

/// The GPT-2 byte map: printable bytes map to themselves, the other 68 to U+0100, U+0101, … in byte order.
enum ByteLevelMap {
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Indexed by scalar value (all mapped scalars are below U+0144); -1 where no byte maps there.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The raw bytes a byte-level token stands for, or nil if some character is outside the map.
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard s.value < 0x144, case let b = scalarToByte[Int(s.value)], b >= 0 else { return nil }
            out.append(UInt8(b))
        }
        return out
    }
}

/// One model token inside a word: its id and the byte length it covers in the (pre-tokenized) word.
struct WordToken: Sendable {
    var id: Int32
    var length: Int32
}

/// The `BPE` model of `tokenizer.json`.
///
/// Merging follows `tokenizers`' `Word::merge_all` exactly: a min-heap ordered by (rank, position), entries checked
/// for staleness against the merged id only.
final class BPEModel: @unchecked Sendable {
    /// Token bytes → id. Keyed by bytes: `String` keys would merge canonically equivalent tokens.
    let vocab: [[UInt8]: Int]
    /// Token string by id (nil for ids the vocabulary skips).
    let idToToken: [String?]
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let byteLevel: Bool
    private let ignoreMerges: Bool
    private let unkID: Int32?
    private let fuseUnk: Bool
    private let byteFallback: Bool
    /// Byte-level: id of each byte's mapped character (-1 if absent).
    private var byteIDs = [Int32](repeating: -1, count: 256)
    /// Id of each single-character token.
    private var charIDs: [UInt32: Int32] = [:]
    /// `<0xNN>` token ids (-1 if absent).
    private var fallbackIDs = [Int32](repeating: -1, count: 256)
    /// Whole-word ids for `ignore_merges`, keyed by the word's bytes before the byte map.
    private var wordIDs: [[UInt8]: Int32] = [:]
    private let cache = WordCache()

    init(json: JSONNode, byteLevel: Bool) throws {
        let type = try json.string("type") ?? "BPE"
        guard type == "BPE" else {
            throw json.unsupported("model type", type, at: "type", supported: "BPE")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = try json.string(key), !s.isEmpty {
                throw json.fail(.unsupported, "unsupported BPE option \(json.path).\(key) = \"\(s)\"")
            }
        }
        if let dropout = try json.double("dropout"), dropout > 0 {
            throw json.fail(.unsupported, "unsupported BPE option \(json.path).dropout = \(dropout)")
        }
        guard let rawVocab = try json.object("vocab")?.value else {
            throw json.fail(.invalidField, "missing object field \(json.path).vocab")
        }
        var vocab: [[UInt8]: Int] = [:]
        vocab.reserveCapacity(rawVocab.keys.count)
        var idToToken: [String?] = []
        idToToken.reserveCapacity(rawVocab.keys.count)
        for (token, value) in zip(rawVocab.keys, rawVocab.values) {
            // Ids are bounded so a corrupt file cannot make the id table huge.
            guard case .integer(let id) = value, id >= 0, id < 16 * rawVocab.keys.count + 1_000_000 else {
                throw json.fail(.invalidField, "\(json.path).vocab[\"\(token)\"] should be a non-negative integer id")
            }
            vocab[Array(token.utf8)] = id
            if id >= idToToken.count { idToToken.append(contentsOf: repeatElement(nil, count: id + 1 - idToToken.count)) }
            idToToken[id] = token
        }
        self.vocab = vocab
        self.idToToken = idToToken
        self.byteLevel = byteLevel
        self.ignoreMerges = try json.bool("ignore_merges", default: false)
        self.fuseUnk = try json.bool("fuse_unk", default: false)
        self.byteFallback = try json.bool("byte_fallback", default: false)
        if let unk = try json.string("unk_token") {
            // tokenizers errors at encode time when the unk token is missing; failing at load is clearer.
            guard let id = vocab[Array(unk.utf8)] else {
                throw json.fail(.invalidField, "\(json.path).unk_token \"\(unk)\" is not in the vocabulary")
            }
            unkID = Int32(id)
        } else {
            unkID = nil
        }
        self.merges = try Self.readMerges(json, vocab: vocab)

        for (id, token) in idToToken.enumerated() {
            guard let token else { continue }
            let scalars = token.unicodeScalars
            if scalars.count == 1 { charIDs[scalars.first!.value] = Int32(id) }
            if ignoreMerges {
                if byteLevel {
                    if let raw = ByteLevelMap.bytes(of: token) { wordIDs[raw] = Int32(id) }
                } else {
                    wordIDs[Array(token.utf8)] = Int32(id)
                }
            }
        }
        for b in 0..<256 {
            byteIDs[b] = charIDs[ByteLevelMap.byteToScalar[b]] ?? -1
            fallbackIDs[b] = vocab[Array(Self.fallbackToken(UInt8(b)).utf8)].map(Int32.init) ?? -1
        }
    }

    /// `<0xNN>` with upper-case hex, as `tokenizers` spells byte-fallback tokens.
    static func fallbackToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    /// Merges as `"a b"` strings or `["a", "b"]` pairs; rank = index, a repeated pair keeps its last rank.
    private static func readMerges(_ json: JSONNode, vocab: [[UInt8]: Int]) throws -> [UInt64: (rank: Int32, id: Int32)] {
        guard let list = try json.array("merges") else { return [:] }
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        merges.reserveCapacity(list.count)
        for (rank, entry) in list.enumerated() {
            let a: [UInt8]
            let b: [UInt8]
            switch entry {
            case .string(let s):
                // Split on the first space byte; characters are no good here (" " + ZWJ is one Character).
                let bytes = Array(s.utf8)
                guard let space = bytes.firstIndex(of: 0x20) else {
                    throw json.fail(.invalidField, "\(json.path).merges[\(rank)] \"\(s)\" is not \"left right\"")
                }
                a = Array(bytes[..<space])
                b = Array(bytes[(space + 1)...])
            case .array(let pair):
                guard pair.count == 2, case .string(let l) = pair[0], case .string(let r) = pair[1] else { fallthrough }
                a = Array(l.utf8)
                b = Array(r.utf8)
            default:
                throw json.fail(.invalidField, "\(json.path).merges[\(rank)] should be \"a b\" or [\"a\", \"b\"]")
            }
            guard let ia = vocab[a], let ib = vocab[b], let merged = vocab[a + b] else {
                let text = String(decoding: a, as: UTF8.self) + " " + String(decoding: b, as: UTF8.self)
                throw json.fail(.invalidField, "\(json.path).merges[\(rank)] (\(text)) uses a token missing from the vocabulary")
            }
            merges[UInt64(ia) << 32 | UInt64(ib)] = (Int32(rank), Int32(merged))
        }
        return merges
    }

    /// Tokens of one pre-tokenized word given as (normalized) UTF-8 bytes.
    func tokenize(_ word: ArraySlice<UInt8>) -> [WordToken] {
        if ignoreMerges, let id = wordIDs[Array(word)] {
            return [WordToken(id: id, length: Int32(word.count))]
        }
        let key = Array(word)
        if let cached = cache.get(key) { return cached }
        let result = merge(key)
        cache.set(key, result)
        return result
    }

    private struct Symbol {
        var id: Int32
        var prev: Int32
        var next: Int32
        var length: Int32
    }

    private func initialSymbols(_ word: [UInt8]) -> [Symbol] {
        var symbols: [Symbol] = []
        symbols.reserveCapacity(word.count)
        func add(_ id: Int32, _ length: Int) {
            let n = Int32(symbols.count)
            symbols.append(Symbol(id: id, prev: n - 1, next: n + 1, length: Int32(length)))
        }
        var pendingUnk: (id: Int32, length: Int)?
        word.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let id: Int32
                let n: Int
                if byteLevel {
                    n = 1
                    id = byteIDs[Int(b[i])]
                } else {
                    let (v, len) = UTF8Scan.scalar(b, i)
                    n = len
                    id = charIDs[v] ?? -1
                }
                defer { i += n }
                if id >= 0 {
                    if let u = pendingUnk { add(u.id, u.length); pendingUnk = nil }
                    add(id, n)
                    continue
                }
                if byteFallback && !byteLevel && (i..<(i + n)).allSatisfy({ fallbackIDs[Int(b[$0])] >= 0 }) {
                    // As in tokenizers, a pending unk is not flushed before fallback bytes.
                    for k in i..<(i + n) { add(fallbackIDs[Int(b[k])], 1) }
                    continue
                }
                if let unk = unkID {
                    if let u = pendingUnk {
                        if fuseUnk {
                            pendingUnk = (u.id, u.length + n)
                        } else {
                            add(u.id, u.length)
                            pendingUnk = (unk, n)
                        }
                    } else {
                        pendingUnk = (unk, n)
                    }
                }
                // Neither byte fallback nor unk: the character is dropped, as tokenizers does.
            }
        }
        if let u = pendingUnk { add(u.id, u.length) }
        if !symbols.isEmpty { symbols[symbols.count - 1].next = -1 }
        return symbols
    }

    private func merge(_ word: [UInt8]) -> [WordToken] {
        var symbols = initialSymbols(word)
        var heap = MergeHeap()
        if symbols.count > 1 {
            for i in 0..<(symbols.count - 1) {
                if let m = merges[UInt64(UInt32(symbols[i].id)) << 32 | UInt64(UInt32(symbols[i + 1].id))] {
                    heap.push(MergeHeap.Entry(rank: m.rank, position: Int32(i), id: m.id))
                }
            }
        }
        while let top = heap.pop() {
            let p = Int(top.position)
            guard symbols[p].length > 0, symbols[p].next >= 0 else { continue }
            let nextPos = Int(symbols[p].next)
            let right = symbols[nextPos]
            let pair = UInt64(UInt32(symbols[p].id)) << 32 | UInt64(UInt32(right.id))
            guard let m = merges[pair], m.id == top.id else { continue }  // stale entry
            symbols[p].id = top.id
            symbols[p].length += right.length
            symbols[p].next = right.next
            symbols[nextPos].length = 0
            if right.next >= 0 && Int(right.next) < symbols.count { symbols[Int(right.next)].prev = Int32(p) }
            let current = symbols[p]
            if current.prev >= 0 {
                let prev = symbols[Int(current.prev)]
                if let m = merges[UInt64(UInt32(prev.id)) << 32 | UInt64(UInt32(current.id))] {
                    heap.push(MergeHeap.Entry(rank: m.rank, position: current.prev, id: m.id))
                }
            }
            if current.next >= 0 && Int(current.next) < symbols.count {
                let next = symbols[Int(current.next)]
                if let m = merges[UInt64(UInt32(current.id)) << 32 | UInt64(UInt32(next.id))] {
                    heap.push(MergeHeap.Entry(rank: m.rank, position: Int32(p), id: m.id))
                }
            }
        }
        var out: [WordToken] = []
        out.reserveCapacity(symbols.count)
        for s in symbols where s.length > 0 { out.append(WordToken(id: s.id, length: s.length)) }
        return out
    }
}

/// Binary min-heap of pending merges ordered by (rank, position).
private struct MergeHeap {
    struct Entry {
        var rank: Int32
        var position: Int32
        var id: Int32

        @inline(__always)
        static func < (a: Entry, b: Entry) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.position < b.position
        }
    }

    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i] < items[parent] else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

/// A bounded word → tokens cache shared by all copies of a tokenizer.
final class WordCache: @unchecked Sendable {
    private var storage: [[UInt8]: [WordToken]] = [:]
    private let lock = NSLock()
    private let capacity = 50_000

    func get(_ key: [UInt8]) -> [WordToken]? {
        lock.lock()
        defer { lock.unlock() }
        return storage[key]
    }

    func set(_ key: [UInt8], _ value: [WordToken]) {
        guard key.count < 256 else { return }
        lock.lock()
        defer { lock.unlock() }
        if storage.count >= capacity { storage.removeAll(keepingCapacity: true) }
        storage[key] = value
    }
}
