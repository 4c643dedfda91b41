import Foundation
import TailorTape
import TailorTensor

/// An optimizer that updates ``Parameter/value`` in place from ``Parameter/grad``.
///
/// Every optimizer follows its `torch.optim` namesake (torch 2.15, single-tensor CPU path):
/// the same update order, the same scalar arithmetic in `Double` (Python floats) rounded to
/// `Float` where torch hands a scalar to an fp32 kernel, and the same skipping rule — a
/// parameter whose ``Parameter/grad`` is nil, or that does not require a gradient, is left
/// untouched and its state (including its step count) does not advance.
///
/// State is kept per parameter **name**, so it survives rebuilding the model and can be saved
/// with ``state()`` and restored with ``loadState(_:parameters:)``. Hyperparameters (betas,
/// weight decay, …) are construction arguments and are not part of the state: a resumed run
/// re-creates the optimizer from its configuration and then loads the state.
///
/// ```swift
/// let optimizer = AdamW(weightDecay: 0.1)
/// for step in 0..<total {
///     // … forward and backward fill each parameter's grad …
///     clipGradientNorm(parameters, maxNorm: 1.0)
///     optimizer.step(parameters, lr: schedule.lr(at: step, totalSteps: total))
///     parameters.forEach { $0.zeroGradient() }
/// }
/// ```
public protocol Optimizer: AnyObject {
    /// A short stable identifier written into saved state (`"adamw"`, `"adam"`, `"sgd"`, `"adafactor"`).
    var kind: String { get }

    /// Applies one update to every parameter that requires a gradient and has one.
    ///
    /// - Parameters:
    ///   - parameters: the parameters to update; names must be unique.
    ///   - lr: the learning rate for this step (from a ``LearningRateSchedule``).
    func step(_ parameters: [Parameter], lr: Float)

    /// A copy of the full state: per-parameter step counts and moment tensors.
    func state() -> OptimizerState

    /// Replaces the state with `state`, after checking it against `parameters`.
    ///
    /// Every tensor and step count in `state` must belong to a parameter in `parameters` (by
    /// name), every stored tensor must have the shape this optimizer expects for that parameter,
    /// and every parameter with a step count must have all of its tensors. Parameters without
    /// state (never stepped) are fine. On error the current state is left unchanged.
    ///
    /// - Throws: `TailorError` naming the optimizer, the entry and the shapes at fault.
    func loadState(_ state: OptimizerState, parameters: [Parameter]) throws

    /// Forgets all state, as if newly created.
    func reset()
}

/// An optimizer's state as plain data: named tensors plus named scalars.
///
/// Tensor names are `"<slot>/<parameter name>"` (for example `"exp_avg/model.layers.0.mlp.up_proj.lora_A.weight"`);
/// scalar names are `"step/<parameter name>"`. ``safetensorsMetadata`` and ``init(file:)`` map it
/// to and from a safetensors file written with `SafetensorsWriter` (F32 tensors; scalars as
/// exact decimal strings in `__metadata__`, together with the optimizer kind and a format
/// version).
public struct OptimizerState: Sendable {
    /// The ``Optimizer/kind`` of the optimizer that produced this state.
    public var kind: String
    /// Moment tensors, sorted by name. Each is an independent copy.
    public var tensors: [(name: String, tensor: Tensor)]
    /// Step counts and any other scalar state, by name.
    public var scalars: [String: Double]

    /// The format version written into ``safetensorsMetadata``; ``init(file:)`` rejects others.
    public static let formatVersion = 1

    /// Metadata keys used in safetensors files.
    static let kindKey = "tailor.optimizer.kind"
    static let versionKey = "tailor.optimizer.version"
    static let scalarPrefix = "tailor.optimizer.scalar."

    /// A state from its parts.
    ///
    /// - Parameters:
    ///   - kind: the producing optimizer's ``Optimizer/kind``.
    ///   - tensors: `"<slot>/<parameter name>"` tensors (sorted by name here).
    ///   - scalars: `"step/<parameter name>"` counts.
    public init(kind: String, tensors: [(name: String, tensor: Tensor)], scalars: [String: Double]) {
        self.kind = kind
        self.tensors = tensors.sorted { $0.name < $1.name }
        self.scalars = scalars
    }

    /// The `__metadata__` entries to write next to ``tensors``: kind, format version and every
    /// scalar as a round-trip-exact decimal string.
    public var safetensorsMetadata: [String: String] {
        var m = [Self.kindKey: kind, Self.versionKey: String(Self.formatVersion)]
        for (k, v) in scalars { m[Self.scalarPrefix + k] = "\(v)" }
        return m
    }

    /// Writes the state as one safetensors file (atomically).
    ///
    /// - Parameter url: the file to create or replace.
    public func write(to url: URL) throws {
        var metadata = safetensorsMetadata
        metadata["format"] = "pt"
        try SafetensorsWriter.write(tensors, metadata: metadata, to: url)
    }

    /// Reads a state written by ``write(to:)`` (or by a trainer from ``tensors`` and ``safetensorsMetadata``).
    ///
    /// Every tensor in the file is taken as optimizer state.
    /// - Throws: `TailorError` when the kind or version is missing or unsupported, or a scalar is not a number.
    public init(file: SafetensorsFile) throws {
        let m = file.metadata
        guard let kind = m[Self.kindKey] else {
            throw TailorError("\(file.url.path): not an optimizer state (no \(Self.kindKey) in __metadata__)")
        }
        guard m[Self.versionKey] == String(Self.formatVersion) else {
            throw TailorError("\(file.url.path): optimizer state version \(m[Self.versionKey] ?? "none"), expected \(Self.formatVersion)")
        }
        var scalars: [String: Double] = [:]
        for (k, v) in m where k.hasPrefix(Self.scalarPrefix) {
            guard let d = Double(v) else { throw TailorError("\(file.url.path): optimizer scalar \(k) = \(v) is not a number") }
            scalars[String(k.dropFirst(Self.scalarPrefix.count))] = d
        }
        let tensors = try file.entries.keys.sorted().map { (name: $0, tensor: try file.tensor($0)) }
        self.init(kind: kind, tensors: tensors, scalars: scalars)
    }
}

/// Per-parameter state shared by all optimizers: named slot tensors and a step count, keyed by
/// parameter name, with the export/load logic (name and shape checks) in one place.
final class SlotStore {
    /// parameter name → slot name → tensor.
    var slots: [String: [String: Tensor]] = [:]
    /// parameter name → number of updates applied to it.
    var steps: [String: Int] = [:]

    /// The parameters a step updates: requires a gradient and has one. Checks unique names.
    static func trainable(_ parameters: [Parameter], _ kind: String) -> [(Parameter, Tensor)] {
        var seen = Set<String>()
        var out: [(Parameter, Tensor)] = []
        for p in parameters {
            precondition(seen.insert(p.name).inserted, "\(kind): parameter name \(p.name) appears twice")
            guard p.requiresGrad, let g = p.grad else { continue }
            precondition(g.shape == p.value.shape, "\(kind): \(p.name) gradient \(g.shape) vs value \(p.value.shape)")
            out.append((p, g))
        }
        return out
    }

    /// The tensor in `slot` for `name`, created by `make` on first use.
    func slot(_ slot: String, of name: String, _ make: () -> Tensor) -> Tensor {
        if let t = slots[name]?[slot] { return t }
        let t = make()
        slots[name, default: [:]][slot] = t
        return t
    }

    /// Increments and returns the step count of `name` (1 on the first update).
    func advance(_ name: String) -> Int {
        let s = (steps[name] ?? 0) + 1
        steps[name] = s
        return s
    }

    func reset() { slots = [:]; steps = [:] }

    func export(kind: String) -> OptimizerState {
        var tensors: [(name: String, tensor: Tensor)] = []
        for (p, map) in slots { for (s, t) in map { tensors.append((name: "\(s)/\(p)", tensor: t.copy())) } }
        var scalars: [String: Double] = [:]
        for (p, n) in steps { scalars["step/\(p)"] = Double(n) }
        return OptimizerState(kind: kind, tensors: tensors, scalars: scalars)
    }

    /// Validates `state` against `parameters` and `expected(p)` (the slot names and shapes for
    /// a parameter that has stepped), then replaces the store.
    func load(_ state: OptimizerState, kind: String, parameters: [Parameter],
              expected: (Parameter) -> [(slot: String, shape: [Int])]) throws {
        guard state.kind == kind else {
            throw TailorError("\(kind): cannot load state saved by optimizer \"\(state.kind)\"")
        }
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        var newSteps: [String: Int] = [:]
        for (key, value) in state.scalars {
            guard key.hasPrefix("step/") else { throw TailorError("\(kind): unknown scalar \(key) in optimizer state") }
            let name = String(key.dropFirst(5))
            guard byName[name] != nil else {
                throw TailorError("\(kind): optimizer state has a step count for \(name), which is not among the \(parameters.count) parameters")
            }
            guard let n = Int(exactly: value), n >= 1 else { throw TailorError("\(kind): step count of \(name) is \(value), expected a positive integer") }
            newSteps[name] = n
        }
        var newSlots: [String: [String: Tensor]] = [:]
        for (key, t) in state.tensors {
            guard let slash = key.firstIndex(of: "/") else { throw TailorError("\(kind): optimizer state tensor \(key) is not named <slot>/<parameter>") }
            let slot = String(key[..<slash]), name = String(key[key.index(after: slash)...])
            guard let p = byName[name] else {
                throw TailorError("\(kind): optimizer state tensor \(key) belongs to \(name), which is not among the \(parameters.count) parameters")
            }
            guard newSteps[name] != nil else { throw TailorError("\(kind): optimizer state tensor \(key) has no step count step/\(name)") }
            guard let want = expected(p).first(where: { $0.slot == slot }) else {
                throw TailorError("\(kind): unexpected optimizer state tensor \(key) (slots for \(name): \(expected(p).map(\.slot)))")
            }
            guard t.shape == want.shape else {
                throw TailorError("\(kind): optimizer state tensor \(key) has shape \(t.shape), expected \(want.shape) for parameter shape \(p.value.shape)")
            }
            newSlots[name, default: [:]][slot] = t.copy()
        }
        for name in newSteps.keys.sorted() {
            for want in expected(byName[name]!) where newSlots[name]?[want.slot] == nil {
                throw TailorError("\(kind): optimizer state for \(name) lacks tensor \(want.slot)/\(name)")
            }
        }
        slots = newSlots
        steps = newSteps
    }
}

/// Elementwise work is split into fixed-size chunks run in parallel; each element is computed
/// independently, so results do not depend on the number of threads.
@inline(__always)
func forEachChunk(_ count: Int, _ body: (Range<Int>) -> Void) {
    Parallel.forEachChunk(count, minChunk: 1 << 15, body)
}

/// `torch.lerp(start, end, weight)` on fp32 as ATen's scalar kernel computes it:
/// `start + w·(end − start)` when |w| < 0.5, else `end − (end − start)·(1 − w)`.
@inline(__always)
func lerp(_ start: Float, _ end: Float, _ w: Float) -> Float {
    abs(w) < 0.5 ? start + w * (end - start) : end - (end - start) * (1 - w)
}

/// Σ x² over `count` elements in `Double`, summed in fixed 64 Ki blocks (in parallel, then in
/// block order), so the result does not depend on the thread count.
func sumOfSquares(_ x: UnsafePointer<Float>, _ count: Int) -> Double {
    let block = 1 << 16
    let blocks = (count + block - 1) / block
    if blocks <= 1 {
        var s: Double = 0
        for i in 0..<count { s += Double(x[i]) * Double(x[i]) }
        return s
    }
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: blocks)
    defer { partial.deallocate() }
    Parallel.forEachChunk(blocks) { range in
        for b in range {
            var s: Double = 0
            for i in (b * block)..<min(count, (b + 1) * block) { s += Double(x[i]) * Double(x[i]) }
            partial[b] = s
        }
    }
    var total: Double = 0
    for b in 0..<blocks { total += partial[b] }
    return total
}
