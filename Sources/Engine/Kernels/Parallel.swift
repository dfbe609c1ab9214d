import Foundation
import Dispatch

/// A raw pointer that may cross into a Dispatch worker. Workers write disjoint ranges.
struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

/// Below this many elements an elementwise loop runs on one thread: splitting costs more than
/// it saves (NOTES.md: ~60–80 GB/s on one core for 1M floats; a Dispatch hand-off costs µs).
let parallelThreshold = 1 << 17

/// Worker count for elementwise loops: the machine's cores, at most 2 chunks per core.
let elementwiseWorkers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))

/// Runs `body` over `0..<count` split into contiguous chunks, in parallel when `count` is large.
/// One level of parallelism only: callers never run this while OpenBLAS is multithreading.
func parallelChunks(_ count: Int, grain: Int = parallelThreshold, _ body: @Sendable (Range<Int>) -> Void) {
    let workers = min(elementwiseWorkers, count / max(grain, 1))
    if workers <= 1 { body(0..<count); return }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let start = w * chunk
        body(start..<min(start + chunk, count))
    }
}
