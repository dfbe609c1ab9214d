import Testing
@testable import Explanations
