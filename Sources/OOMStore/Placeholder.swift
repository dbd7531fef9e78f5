public enum OOMStorePlaceholder {}
