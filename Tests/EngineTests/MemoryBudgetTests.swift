@testable import Engine
import Testing

/// `MemoryBudget` (`--memory-limit`) and the tensor-memory accounting it relies on.
@Suite struct MemoryBudgetTests {
    @Test func parsesSizes() {
        #expect(MemoryBudget(parsing: "512M")?.bytes == 512 << 20)
        #expect(MemoryBudget(parsing: "2g")?.bytes == 2 << 30)
        #expect(MemoryBudget(parsing: "1.5G")?.bytes == 3 << 29)
        #expect(MemoryBudget(parsing: "64K")?.bytes == 64 << 10)
        #expect(MemoryBudget(parsing: "100000")?.bytes == 100_000)
        for bad in ["", "0", "-1G", "abc", "2GB", "2GiB", "nan", "infG", "1e30G", "0.5"] {
            #expect(MemoryBudget(parsing: bad) == nil, "'\(bad)' parsed")
        }
        #expect(MemoryBudget.format(3 << 29) == "1.5 GiB" && MemoryBudget.format(512 << 20) == "512 MiB" && MemoryBudget.format(12) == "12 B")
    }

    /// The accounting sees a tensor's bytes while it lives and gives them back when it dies.
    @Test func measureSeesTheLargestTensorsAlive() {
        // The counters are process-wide: another test freeing its tensors meanwhile lowers the
        // peak seen above `before`, so one of three tries must see all 8 MiB.
        let tries = (0..<3).map { _ in
            MemoryUsage.measure {
                let a = Tensor.zeros([1 << 20])           // 4 MiB
                let b = (a + 1).sum()                      // + 4 MiB while a + 1 is alive
                _ = b.item
            }.bytes
        }
        #expect(tries.contains { $0 >= 8 << 20 }, "\(tries)")
    }

    /// Rows that fit: the requested count when there is room, at least 1 when there is none.
    @Test func rowsRespectTheBudget() {
        let huge = MemoryBudget(bytes: 1 << 50), tiny = MemoryBudget(bytes: 1)
        #expect(huge.rows(rowBytes: 1 << 20, workers: 2, requested: 64) == 64)
        #expect(tiny.rows(rowBytes: 1 << 20, workers: 2, requested: 64) == 1)
        let room = MemoryBudget(bytes: MemoryUsage.liveBytes + (1 << 40))
        #expect(room.rows(rowBytes: 1 << 36, workers: 2, requested: 64) <= 8)   // ≤ 2^40 / (2 · 2^36), others' tensors aside
    }
}
