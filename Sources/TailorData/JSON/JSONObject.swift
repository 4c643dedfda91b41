/// A string-keyed dictionary that remembers insertion order, like a Python `dict`.
///
/// Small maps use a linear scan; an index is built once the map grows past `indexThreshold` keys.
/// Assigning to an existing key keeps its position (Python semantics).
struct OrderedStore<Value> {
    private(set) var keys: [String] = []
    private(set) var values: [Value] = []
    private var index: [String: Int]? = nil
    private static var indexThreshold: Int { 12 }

    init() {}

    init(minimumCapacity: Int) {
        keys.reserveCapacity(minimumCapacity)
        values.reserveCapacity(minimumCapacity)
    }

    var count: Int { keys.count }

    func position(of key: String) -> Int? {
        if let index { return index[key] }
        for i in keys.indices where keys[i] == key { return i }
        return nil
    }

    subscript(key: String) -> Value? {
        get { position(of: key).map { values[$0] } }
        set {
            if let newValue { set(key, newValue) } else { remove(key) }
        }
    }

    mutating func set(_ key: String, _ value: Value) {
        if let i = position(of: key) {
            values[i] = value
            return
        }
        keys.append(key)
        values.append(value)
        if index != nil {
            index![key] = keys.count - 1
        } else if keys.count > Self.indexThreshold {
            var built = [String: Int](minimumCapacity: keys.count * 2)
            for (i, k) in keys.enumerated() { built[k] = i }
            index = built
        }
    }

    mutating func remove(_ key: String) {
        guard let i = position(of: key) else { return }
        keys.remove(at: i)
        values.remove(at: i)
        if index != nil {
            var built = [String: Int](minimumCapacity: keys.count * 2)
            for (j, k) in keys.enumerated() { built[k] = j }
            index = built
        }
    }
}

extension OrderedStore: Sendable where Value: Sendable {}

/// A JSON object whose keys keep their insertion order, like a Python `dict`.
///
/// Serializing preserves the order (so `tojson` output matches Python byte for byte). Duplicate keys in parsed
/// text behave like Python's `json`: the last value wins, at the position of the first occurrence.
/// Equality ignores order, as Python's `dict.__eq__` does.
///
/// ```swift
/// var object: JSONObject = ["role": "user"]
/// object["content"] = "Hi"
/// object.keys  // ["role", "content"]
/// ```
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    var store: OrderedStore<JSONValue>

    /// Creates an empty object.
    public init() { store = OrderedStore() }

    /// Creates an object from key–value pairs in order; a repeated key keeps its first position and last value.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        store = OrderedStore()
        for (k, v) in pairs { store.set(k, v) }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    /// The number of keys.
    public var count: Int { store.count }
    /// Whether the object has no keys.
    public var isEmpty: Bool { store.count == 0 }
    /// The keys in insertion order.
    public var keys: [String] { store.keys }
    /// The values in insertion order.
    public var values: [JSONValue] { store.values }

    /// The value for `key`, or nil. Setting nil removes the key.
    public subscript(key: String) -> JSONValue? {
        get { store[key] }
        set { store[key] = newValue }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: JSONValue)> {
        var i = 0
        let keys = store.keys, values = store.values
        return AnyIterator {
            guard i < keys.count else { return nil }
            defer { i += 1 }
            return (keys[i], values[i])
        }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (k, v) in zip(lhs.store.keys, lhs.store.values) where rhs.store[k] != v { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, to agree with `==`.
        var combined = 0
        for (k, v) in zip(store.keys, store.values) {
            var h = Hasher()
            h.combine(k)
            h.combine(v)
            combined ^= h.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}
