import Testing
import TailorTensor

/// The largest |a − b| over whole arrays, with its index.
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> (value: Float, index: Int) {
    precondition(a.count == b.count, "compare: \(a.count) vs \(b.count) elements")
    var worst: Float = 0, at = 0
    for i in 0..<a.count {
        let d = abs(a[i] - b[i])
        if d > worst || d.isNaN { worst = d; at = i; if d.isNaN { break } }
    }
    return (worst, at)
}

/// Expects every element within `atol + rtol·max|expected|` (a whole-tensor tolerance; never a mean).
public func expectClose(
    _ actual: [Float], _ expected: [Float], atol: Float = 0, rtol: Float = 0, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) elements, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    let scale = expected.reduce(Float(0)) { max($0, abs($1)) }
    let tol = atol + rtol * scale
    let (d, i) = maxAbsDifference(actual, expected)
    #expect(d <= tol, "\(what): max |Δ| = \(d) at \(i) (actual \(actual[i]), expected \(expected[i])), tolerance \(tol)",
            sourceLocation: sourceLocation)
}

public func expectClose(
    _ actual: Tensor, _ expected: Tensor, atol: Float = 0, rtol: Float = 0, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(what): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    expectClose(actual.array, expected.array, atol: atol, rtol: rtol, what, sourceLocation: sourceLocation)
}
