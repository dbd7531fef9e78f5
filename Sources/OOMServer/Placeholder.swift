public enum OOMServerPlaceholder {}
