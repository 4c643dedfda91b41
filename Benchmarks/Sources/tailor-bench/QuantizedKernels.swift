import Foundation
import Tailor

/// The two products a frozen QLoRA base weight takes part in — `y = x·Wᵀ` (forward) and
/// `dx += dy·W` (input gradient) — through the tile-by-tile dequantizing matmul, against the same
/// products on the dense fp32 weight (sgemm) at the same shape.
enum QuantizedKernels {
    /// The formats `tailor train --quantize` makes (NF4 without double quantization), and bf16
    /// (AMX tiles where the CPU has them).
    static let formats: [BaseQuantization] = [.q8_0, .q4_0, .q4_K, .nf4, .bf16]

    /// (rows, out, in) with a label: SmolLM-135M's gate/up and q/o, and down so that Q4_K (blocks
    /// of 256) is measured on a width it accepts (576 is not a multiple of 256).
    static let shapes = [(1024, 1536, 576, "gate/up"), (1024, 576, 576, "q/o"), (1024, 576, 1536, "down"),
                         (256, 4096, 4096, "llama-2-7b q/o, 256 tokens")]

    /// Timed with bf16 compute only, on the shapes their blocks fit (the 32-element ones on the 7B
    /// shape alone).
    static let ggufOnlyFormats: [GGMLType] = [.q6_K, .q5_K, .q4_1, .q5_0, .q5_1]

    /// Random blocks of `type` with small finite f16 scales (the time does not depend on the values).
    static func randomBlocks(_ type: GGMLType, rows: Int, columns: Int) throws -> QuantizedMatrix {
        let blocks = rows * columns / type.blockSize
        let data = NSMutableData(length: blocks * type.blockBytes)!
        let p = data.mutableBytes.assumingMemoryBound(to: UInt8.self)
        var state: UInt64 = 1
        for i in 0..<data.length {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            p[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        for b in 0..<blocks { p[b * type.blockBytes + 1] = 0x20; p[b * type.blockBytes + 3] = 0x20 }  // halves near 1/128: d and m or dmin
        return try QuantizedMatrix(name: "bench.random.\(type.name)", type: type, outFeatures: rows, inFeatures: columns,
                                   bytes: UnsafeRawBufferPointer(start: data.bytes, count: data.length), owner: data)
    }

    static func run(random: ([Int], Float) -> Tensor, timer: KernelTimer) throws {
        print("quantized matmul (fp32 tiles of up to 16 MiB, at least 256 rows, dequantized per sgemm; bf16 tiles of 256 rows; bf16 on AMX: \(BF16MatMul.usesAMX)); ratio = sgemm time / this time")
        for (m, n, k, label) in shapes {
            let dense = random([n, k], 0.035)
            let x = random([m, k], 1), dy = random([m, n], 1)
            let y = Tensor(zeros: [m, n]), dx = Tensor(zeros: [m, k])
            let flops = 2 * Double(m * n * k)
            let shape = "\(m)×\(n)×\(k)"
            // The dense reference goes through the same LinearWeight calls as training on an f32 base.
            let f32 = Parameter("bench.\(label).weight", dense)
            let forward = timer.time("f32 (sgemm) x·Wᵀ \(label) \(shape)", flops: flops) {
                f32.multiply(x.pointer, rows: m, into: y.pointer)
            }
            let backward = timer.time("f32 (sgemm) dy·W \(label) \(shape)", flops: flops) {
                f32.accumulateInputGradient(dy.pointer, rows: m, into: dx.pointer)
            }
            for format in formats {
                guard k % format.blockSize == 0 else {
                    print("\(format.rawValue) \(label) \(shape): not applicable (\(k) input features are not a multiple of the \(format.blockSize)-element block)")
                    continue
                }
                let w = try format.quantize("bench.\(label).weight", dense)
                if let rows = w as? any RowReadableWeight, format != .bf16 {  // dequantization alone, one thread, into L2-sized strips
                    let strip = Tensor(zeros: [32, k])
                    timer.time("\(format.rawValue) dequantize \(label) \(n)×\(k), 32 rows at a time", bytes: Double(4 * n * k)) {
                        for r0 in stride(from: 0, to: n, by: 32) { rows.dequantizeRows(r0..<min(n, r0 + 32), into: strip.pointer) }
                    }
                }
                timer.time("\(format.rawValue) x·Wᵀ \(label) \(shape)", flops: flops, versus: forward) {
                    w.multiply(x.pointer, rows: m, into: y.pointer)
                }
                timer.time("\(format.rawValue) dy·W \(label) \(shape)", flops: flops, versus: backward) {
                    w.accumulateInputGradient(dy.pointer, rows: m, into: dx.pointer)
                }
                // `--compute bf16`: the same blocks, each tile rounded to bf16 and multiplied on AMX.
                guard let b = w as? any BF16Computable else { continue }
                b.bf16Products = true
                timer.time("\(format.rawValue) (bf16 compute) x·Wᵀ \(label) \(shape)", flops: flops, versus: forward) {
                    b.multiply(x.pointer, rows: m, into: y.pointer)
                }
                timer.time("\(format.rawValue) (bf16 compute) dy·W \(label) \(shape)", flops: flops, versus: backward) {
                    b.accumulateInputGradient(dy.pointer, rows: m, into: dx.pointer)
                }
            }
            // Formats read from GGUF files but not made by `--quantize`: Q6_K (Q4_K_M and Q5_K_M files
            // hold the head and some projections in it), Q5_K (the bulk of Q5_K_M), the legacy 32-element ones.
            for type in ggufOnlyFormats where k % type.blockSize == 0 && (type.blockSize == 256 || k >= 4096) {
                let w = Quantize.supported.contains(type)
                    ? try QuantizedMatrix(name: "bench.\(label).weight", quantizing: dense, as: type)
                    : try randomBlocks(type, rows: n, columns: k)
                w.bf16Products = true
                let name = type.name.lowercased()
                timer.time("\(name) (bf16 compute) x·Wᵀ \(label) \(shape)", flops: flops, versus: forward) {
                    w.multiply(x.pointer, rows: m, into: y.pointer)
                }
                timer.time("\(name) (bf16 compute) dy·W \(label) \(shape)", flops: flops, versus: backward) {
                    w.accumulateInputGradient(dy.pointer, rows: m, into: dx.pointer)
                }
            }
        }
    }
}
