import Foundation
import TailorData
import TailorModels
import TailorTape
import TailorTensor

/// What a checkpoint records besides the weights and optimizer moments.
public struct TrainerState: Sendable, Codable, Equatable {
    /// Bumped when the layout changes; older or newer checkpoints are refused with a message.
    public static let currentFormat = 1

    public var format: Int = TrainerState.currentFormat
    /// Optimizer steps completed.
    public var step: Int
    public var totalSteps: Int
    /// The next batch to read.
    public var cursor: DataCursor
    public var seed: UInt64
    public var bestValidLoss: Double?
    public var bestStep: Int?
    /// Evaluations since the last improvement (early stopping).
    public var evalsWithoutImprovement: Int
    public var elapsedSeconds: Double
    public var configuration: TrainingConfiguration
    /// Steps skipped so far because of a non-finite loss or gradient (`skipNonfinite`); absent
    /// in checkpoints written before this field existed.
    public var skippedNonFinite: Int? = nil
}

/// Checkpoint folders `OUTPUT/checkpoints/step-NNNNNN/`, written atomically: everything goes to
/// a temporary sibling folder, files are flushed, and the folder is renamed into place, so a
/// crash leaves either the previous checkpoints or a complete new one.
public enum Checkpoints {
    public static let stateFile = "trainer_state.json"
    public static let optimizerFile = "optimizer.safetensors"

    public static func folder(output: URL) -> URL { output.appendingPathComponent("checkpoints") }

    public static func name(step: Int) -> String { String(format: "step-%06d", step) }

    /// Writes a checkpoint; `writeContents` puts the weights and optimizer state into the folder.
    ///
    /// Every file is fsynced, then the folder is fsynced and renamed into place and its parent
    /// fsynced. On any failure (full disk, unwritable folder) the error names the checkpoint and
    /// the reason, the partial folder is removed, and the existing checkpoints are untouched.
    public static func save(output: URL, state: TrainerState, writeContents: (URL) throws -> Void) throws -> URL {
        let fm = FileManager.default
        let root = folder(output: output)
        let final = root.appendingPathComponent(name(step: state.step))
        let tmp = root.appendingPathComponent(".\(name(step: state.step)).tmp-\(getpid())")
        do {
            try fm.createDirectory(at: root, withIntermediateDirectories: true)
            try? fm.removeItem(at: tmp)
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
            try writeContents(tmp)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(state), to: tmp.appendingPathComponent(stateFile))
            AtomicFile.syncFolder(tmp)
            // Replace an existing checkpoint of the same step (a resumed run re-saving it). A crash
            // between the two moves leaves the older checkpoints, which resume uses.
            if fm.fileExists(atPath: final.path) {
                let old = root.appendingPathComponent(".\(name(step: state.step)).old-\(getpid())")
                try? fm.removeItem(at: old)
                try fm.moveItem(at: final, to: old)
                try fm.moveItem(at: tmp, to: final)
                try? fm.removeItem(at: old)
            } else {
                guard rename(tmp.path, final.path) == 0 else {
                    throw TailorError("cannot move it into place (\(String(cString: strerror(errno))))")
                }
            }
            AtomicFile.syncFolder(root)
        } catch {
            try? fm.removeItem(at: tmp)
            let reason = (error as? TailorError)?.message ?? error.localizedDescription
            let kept = list(output: output).last.map { "; the last complete checkpoint, \($0.url.path), is intact" } ?? ""
            throw TailorError("\(final.path): cannot write checkpoint: \(reason)\(kept)")
        }
        return final
    }

    /// Removes what an interrupted ``save(output:state:writeContents:)``, ``prune(output:keep:protected:)``
    /// or atomic file write left behind (`checkpoints/.step-*` folders, `OUTPUT/.*.tmp-*` files);
    /// complete checkpoints and files are never touched.
    public static func removeIncomplete(output: URL) {
        for n in (try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? [] where n.hasPrefix(".") && n.contains(".tmp-") {
            try? FileManager.default.removeItem(at: output.appendingPathComponent(n))
        }
        let root = folder(output: output)
        for n in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] where n.hasPrefix(".step-") {
            let url = root.appendingPathComponent(n)
            // A complete checkpoint moved aside to be replaced, whose replacement never arrived: restore it.
            if let range = n.range(of: ".old-") {
                let original = root.appendingPathComponent(String(n[n.index(after: n.startIndex)..<range.lowerBound]))
                if !FileManager.default.fileExists(atPath: original.path), rename(url.path, original.path) == 0 { continue }
            }
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// Complete checkpoints in `output`, oldest first.
    public static func list(output: URL) -> [(step: Int, url: URL)] {
        let root = folder(output: output)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.compactMap { n -> (Int, URL)? in
            guard n.hasPrefix("step-"), let s = Int(n.dropFirst(5)) else { return nil }
            let url = root.appendingPathComponent(n)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(stateFile).path) else { return nil }
            return (s, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// A checkpoint folder from `--resume`: an output folder (its latest checkpoint) or a
    /// `checkpoints/step-N` folder.
    public static func resolve(_ path: URL) throws -> URL {
        if FileManager.default.fileExists(atPath: path.appendingPathComponent(stateFile).path) { return path }
        guard let latest = list(output: path).last else {
            throw TailorError("\(path.path): no checkpoint to resume from (expected \(stateFile) here or checkpoints/step-*/ below)")
        }
        return latest.url
    }

    /// Reads a checkpoint's trainer state.
    public static func loadState(_ folder: URL) throws -> TrainerState {
        let stateURL = folder.appendingPathComponent(stateFile)
        guard let data = FileManager.default.contents(atPath: stateURL.path) else { throw TailorError("\(stateURL.path): missing") }
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: data) } catch {
            throw TailorError("\(stateURL.path): unreadable trainer state (\(error))")
        }
        guard state.format == TrainerState.currentFormat else {
            throw TailorError("\(stateURL.path): checkpoint format \(state.format), this tailor reads format \(TrainerState.currentFormat)")
        }
        return state
    }

    /// Deletes periodic checkpoints beyond the newest `keep`, never `protected` (the best).
    ///
    /// Each folder is first renamed to a hidden name (atomic), then deleted, so a crash during
    /// the deletion never leaves a half-deleted `step-N` folder that resume would pick up.
    public static func prune(output: URL, keep: Int, protected: Int?) {
        let all = list(output: output)
        let removable = all.filter { $0.step != protected }
        let root = folder(output: output)
        for c in removable.dropLast(max(0, keep)) {
            let doomed = root.appendingPathComponent(".\(c.url.lastPathComponent).del-\(getpid())")
            guard rename(c.url.path, doomed.path) == 0 else { continue }
            try? FileManager.default.removeItem(at: doomed)
        }
    }

}

extension Checkpoints {
    /// The output folder a `--resume` path belongs to: the path itself, or OUTPUT for a
    /// `OUTPUT/checkpoints/step-N` folder.
    public static func outputFolder(ofResume path: URL) -> URL {
        if FileManager.default.fileExists(atPath: path.appendingPathComponent(stateFile).path) {
            return path.deletingLastPathComponent().deletingLastPathComponent()
        }
        return path
    }
}
