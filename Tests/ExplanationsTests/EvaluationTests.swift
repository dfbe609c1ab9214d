@testable import Explanations
import Testing

@Suite struct EvaluationTests {
    @Test func spearmanMatchesSciPy() {
        // scipy.stats.spearmanr (average ranks for ties).
        #expect(abs(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) - 0.8207826816681233) < 1e-12)
        #expect(abs(spearman([3, 1, 2, 2, 5, 0], [1, 0, 2, 2, 9, -1]) - 0.823529411764706) < 1e-12)
        #expect(spearman([1, 1, 1], [1, 2, 3]) == 0)
    }

    @Test func orderIsByDecreasingScoreWithStableTies() {
        #expect(ExplanationEvaluator.order([0.1, 0.5, 0.5, -1, 2]) == [4, 1, 2, 0, 3])
    }
}
