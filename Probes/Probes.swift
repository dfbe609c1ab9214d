// Probes: attention, gradient and perturbation attributions, exports (issue 5).
public enum Probes {}
