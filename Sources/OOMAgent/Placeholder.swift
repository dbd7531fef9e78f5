public enum OOMAgentPlaceholder {}
