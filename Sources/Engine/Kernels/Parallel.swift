import Foundation
import Dispatch
import Synchronization

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

/// How many ``inParallel(_:_:)`` regions are running: inside one, every core already has a worker,
/// so elementwise loops stay on their own thread.
private let outerRegions = Atomic<Int>(0)

/// Runs `body` over `0..<count` split into contiguous chunks, in parallel when `count` is large.
/// One level of parallelism only (NOTES.md): serial inside ``inParallel(_:_:)``, and callers never
/// run this while OpenBLAS is multithreading.
func parallelChunks(_ count: Int, grain: Int = parallelThreshold, _ body: @Sendable (Range<Int>) -> Void) {
    if outerRegions.load(ordering: .relaxed) > 0 { body(0..<count); return }
    let workers = min(elementwiseWorkers, count / max(grain, 1))
    if workers <= 1 { body(0..<count); return }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let start = w * chunk
        body(start..<min(start + chunk, count))
    }
}

/// Runs `body(0)`, …, `body(n − 1)` on n threads at once and returns their results in order: the
/// one way callers split work across cores (data-parallel training, batched attributions). Meanwhile
/// OpenBLAS is single-threaded and the engine's elementwise loops run on the calling worker, so
/// there is one level of parallelism only (NOTES.md: nesting is slower than either level alone).
public func inParallel<T>(_ n: Int, _ body: (Int) -> T) -> [T] {
    guard n > 1 else { return n == 1 ? [body(0)] : [] }
    return withoutActuallyEscaping(body) { body in
        let slots = ParallelSlots<T>(n, body)
        let previous = BLAS.threadCount
        BLAS.setThreadCount(1)
        outerRegions.add(1, ordering: .relaxed)
        DispatchQueue.concurrentPerform(iterations: n) { slots.run($0) }
        outerRegions.subtract(1, ordering: .relaxed)
        BLAS.setThreadCount(previous)
        return slots.results.map { $0! }
    }
}

/// Result slots that concurrent workers fill, each its own index (a raw buffer: no copy-on-write
/// check races between the workers).
private final class ParallelSlots<T>: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<T?>
    let body: (Int) -> T
    init(_ n: Int, _ body: @escaping (Int) -> T) {
        slots = .allocate(capacity: n); slots.initialize(repeating: nil); self.body = body
    }
    deinit { slots.deinitialize(); slots.deallocate() }
    func run(_ i: Int) { slots[i] = body(i) }
    var results: [T?] { Array(slots) }
}

/// Runs `body(i)` for every `i` in `0..<costs.count` on up to `workers` threads, the indices dealt
/// into groups of near-equal total cost (largest first, each to the lightest group), each group
/// in ascending order. For per-parameter work between training steps (the optimizer, clipping,
/// summing replicas' gradients), which otherwise ran on one core while the other waited. Serial
/// inside an ``inParallel(_:_:)`` region, or when there is too little work to split.
public func inParallel(balancing costs: [Int], workers: Int, _ body: (Int) -> Void) {
    let total = costs.reduce(0, +)
    let n = min(workers, costs.count)
    if n <= 1 || total < parallelThreshold || outerRegions.load(ordering: .relaxed) > 0 {
        for i in costs.indices { body(i) }
        return
    }
    var groups = [[Int]](repeating: [], count: n), loads = [Int](repeating: 0, count: n)
    for i in costs.indices.sorted(by: { costs[$0] > costs[$1] }) {
        let g = loads.indices.min { loads[$0] < loads[$1] }!
        groups[g].append(i); loads[g] += costs[i]
    }
    _ = inParallel(n) { w in for i in groups[w].sorted() { body(i) } }
}
