import Foundation
import TailorData
import TailorModels
import Testing
import TailorTensor
import TailorTestSupport

/// `tailor train` killed with SIGKILL at random moments (some during a checkpoint write) and
/// resumed each time ends with the same adapter bytes as an uninterrupted run, and no checkpoint
/// on disk is ever unreadable. `TAILOR_KILL_TRIALS` and `TAILOR_KILL_SEED` override the trial
/// count (default 10) and the random seed (default: random, printed on failure);
/// `Scripts/crash-safety.sh` runs long sessions.
@Suite(.serialized) struct CrashSafetyTests {
    static let env = ProcessInfo.processInfo.environment

    /// Everything about one interrupted session, for messages and the script's report.
    struct Session: CustomStringConvertible {
        var seed: UInt64
        var kills = 0, killsDuringCheckpointWrite = 0, freshStarts = 0, checkpointsChecked = 0
        var description: String {
            "seed \(seed): \(kills) kills (\(killsDuringCheckpointWrite) during a checkpoint write), "
                + "\(freshStarts) restarts before any checkpoint, \(checkpointsChecked) checkpoint reads"
        }
    }

    @Test func killAndResumeEndsByteIdentical() throws {
        let trials = Int(Self.env["TAILOR_KILL_TRIALS"] ?? "") ?? 10
        let steps = Int(Self.env["TAILOR_KILL_STEPS"] ?? "") ?? max(24, 3 * trials)
        var session = Session(seed: UInt64(Self.env["TAILOR_KILL_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64(UInt32.max)))
        var rng = SeededGenerator(seed: session.seed)
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder("tailor-crash")
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try TrainCommandTests.chatData(in: work, lines: 40)
        func args(_ out: URL) -> [String] {
            ["train", "--model", model.path, "--data", data.path, "--output", out.path, "--steps", "\(steps)",
             "--save-every", "1", "--keep", "2", "--eval-every", "5", "--batch-size", "2", "--rank", "2", "--seed", "3",
             "--lr", "0.01"]
        }
        let reference = work.appendingPathComponent("reference")
        let straight = try runTailor(args(reference))
        try #require(straight.status == 0, "\(straight.stderr)")

        let out = work.appendingPathComponent("killed")
        let checkpoints = out.appendingPathComponent("checkpoints")
        var finished = false
        while !finished {
            let resumable = !Self.completeCheckpoints(checkpoints).isEmpty
            if !resumable && session.kills > 0 { session.freshStarts += 1 }
            let p = Process()
            p.executableURL = try tailorExecutable()
            p.arguments = resumable ? ["train", "--resume", out.path] : args(out) + ["--overwrite"]
            p.standardOutput = FileHandle.nullDevice
            let err = Pipe()
            p.standardError = err
            if session.kills < trials {
                try p.run()
                // Odd trials: kill as soon as a checkpoint is being written (its temporary folder
                // exists). Even trials: kill after a random number of new checkpoints plus a random
                // delay of up to one step. A run that ends first just counts as finished.
                let start = Self.latestStep(checkpoints)
                let duringWrite = session.kills % 2 == 1
                let target = start + Int.random(in: 1...3, using: &rng)
                let deadline = Date().addingTimeInterval(60)
                var inWrite = false
                while p.isRunning && Date() < deadline {
                    if duringWrite, Self.writeInProgress(checkpoints), Self.latestStep(checkpoints) > start {
                        inWrite = true
                        break
                    }
                    if !duringWrite, Self.latestStep(checkpoints) >= target {
                        usleep(UInt32.random(in: 0...20_000, using: &rng))
                        break
                    }
                    usleep(200)
                }
                if p.isRunning {
                    kill(p.processIdentifier, SIGKILL)
                    session.kills += 1
                    if inWrite && Self.writeInProgress(checkpoints) { session.killsDuringCheckpointWrite += 1 }
                }
                _ = err.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                if p.terminationReason == .exit {
                    #expect(p.terminationStatus == 0, "\(session)")
                    finished = p.terminationStatus == 0
                    if !finished { break }
                }
            } else {
                try p.run()
                let e = err.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                #expect(p.terminationStatus == 0, "\(session): \(String(decoding: e, as: UTF8.self))")
                finished = true
            }
            // Every checkpoint that looks complete must load.
            for folder in Self.completeCheckpoints(checkpoints) {
                session.checkpointsChecked += 1
                let state = try Data(contentsOf: folder.appendingPathComponent("trainer_state.json"))
                #expect((try? JSONSerialization.jsonObject(with: state)) is [String: Any], "\(folder.path): \(session)")
                for name in ["adapter_model.safetensors", "optimizer.safetensors", "adapter_config.json"] {
                    let url = folder.appendingPathComponent(name)
                    if name.hasSuffix(".safetensors") {
                        #expect(throws: Never.self, "\(url.path): \(session)") { _ = try SafetensorsFile(url: url) }
                    } else {
                        #expect((try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) != nil, "\(url.path): \(session)")
                    }
                }
            }
        }
        #expect(session.kills >= trials, "\(session)")
        #expect(trials < 2 || session.killsDuringCheckpointWrite >= 1, "\(session)")
        for name in ["adapter_model.safetensors", "adapter_config.json"] {
            let a = try Data(contentsOf: reference.appendingPathComponent(name)), b = try Data(contentsOf: out.appendingPathComponent(name))
            #expect(a == b, "\(name) differs from the uninterrupted run: \(session)")
        }
        print("crash-safety: \(session), final adapter byte-identical: \(try Data(contentsOf: reference.appendingPathComponent("adapter_model.safetensors")) == Data(contentsOf: out.appendingPathComponent("adapter_model.safetensors")))")
    }

    static func completeCheckpoints(_ root: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasPrefix("step-") }.sorted()
            .map { root.appendingPathComponent($0) }
    }

    static func latestStep(_ root: URL) -> Int {
        completeCheckpoints(root).compactMap { Int($0.lastPathComponent.dropFirst(5)) }.max() ?? 0
    }

    static func writeInProgress(_ root: URL) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).contains { $0.hasPrefix(".step-") && $0.contains(".tmp-") }
    }
}

