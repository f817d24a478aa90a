package io.vmhandler.it;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.ImportOption.DoNotIncludeTests;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.util.Arrays;
import java.util.stream.Stream;

/**
 * The module dependency rules of docs/design.md §2, checked on the compiled classes of every module
 * (this module's classpath holds them all; test classes and test-jars are left out). Maven already
 * refuses an import of a module a pom does not declare; these rules also state what no pom can:
 * which packages a class may use when a library arrives transitively (fabric8 below core, the mock
 * server outside the demo), and no package cycles, between modules or inside handler-core. No root
 * needed: classes are only read, never loaded or run.
 */
@AnalyzeClasses(packages = "io.vmhandler",
        importOptions = {DoNotIncludeTests.class, ArchitectureTest.DoNotIncludeTestJars.class})
class ArchitectureTest {
    private static final String NATIVE = "io.vmhandler.nativeio..";
    private static final String PROC = "io.vmhandler.proc..";
    private static final String MEMLOCK = "io.vmhandler.memlock..";
    private static final String NET = "io.vmhandler.net..";
    private static final String CGROUPS = "io.vmhandler.cgroups..";
    private static final String SELINUX = "io.vmhandler.selinux..";
    private static final String GRPC = "io.vmhandler.grpc..";
    private static final String CORE = "io.vmhandler.core..";
    private static final String CLI = "io.vmhandler.cli..";
    private static final String FABRIC8 = "io.fabric8..";

    @ArchTest
    static final ArchRule nativeDependsOnNoOtherModule = onlyOnModules(NATIVE);

    @ArchTest
    static final ArchRule procDependsOnlyOnNative = onlyOnModules(PROC, NATIVE);

    @ArchTest
    static final ArchRule memlockDependsOnNoOtherModule = onlyOnModules(MEMLOCK);

    /** libvirt's formula is arithmetic: no native code, so it runs and is tested anywhere. */
    @ArchTest
    static final ArchRule memlockHasNoNativeCode = noClasses().that().resideInAPackage(MEMLOCK)
            .should().dependOnClassesThat().resideInAnyPackage("jnr..", "com.kenai.jffi..")
            .because("handler-memlock is libvirt's formula only; applying the limit is handler-core's");

    @ArchTest
    static final ArchRule netDependsOnlyOnNative = onlyOnModules(NET, NATIVE);

    /** /proc/PID/cgroup and mountinfo are read through handler-proc, the one /proc reader. */
    @ArchTest
    static final ArchRule cgroupsDependsOnlyOnNativeAndProc = onlyOnModules(CGROUPS, NATIVE, PROC);

    @ArchTest
    static final ArchRule selinuxDependsOnlyOnNative = onlyOnModules(SELINUX, NATIVE);

    /** The launcher API is a contract: core implements LauncherBackend, grpc never reaches back. */
    @ArchTest
    static final ArchRule grpcKnowsNothingOfTheDaemon = noClasses().that().resideInAPackage(GRPC)
            .should().dependOnClassesThat()
            .resideInAnyPackage(CORE, CLI, NET, CGROUPS, SELINUX, MEMLOCK, NATIVE, PROC, FABRIC8)
            .because("handler-grpc serves LauncherBackend, which handler-core implements");

    @ArchTest
    static final ArchRule nothingBelowCoreUsesKubernetes = noClasses()
            .that().resideInAnyPackage(NATIVE, PROC, MEMLOCK, NET, CGROUPS, SELINUX, GRPC)
            .should().dependOnClassesThat().resideInAPackage(FABRIC8)
            .because("only handler-core talks to the API server; the modules below it work on host objects");

    @ArchTest
    static final ArchRule coreNeverDependsOnCli = noClasses().that().resideInAPackage(CORE)
            .should().dependOnClassesThat().resideInAPackage(CLI)
            .because("the image runs handler-core without the CLI's demo and mock");

    @ArchTest
    static final ArchRule mockApiServerOnlyInDemo = noClasses().that().resideOutsideOfPackage("io.vmhandler.cli.demo..")
            .should().dependOnClassesThat()
            .resideInAnyPackage("io.fabric8.kubernetes.client.server.mock..", "io.fabric8.mockwebserver..")
            .because("fabric8's mock server is a demo and test tool; the daemon must never serve it");

    @ArchTest
    static final ArchRule modulesAreFreeOfCycles = slices().matching("io.vmhandler.(*)..").should().beFreeOfCycles();

    @ArchTest
    static final ArchRule corePackagesAreFreeOfCycles = slices().matching("io.vmhandler.core.(*)..")
            .should().beFreeOfCycles();

    /**
     * Leaves out the modules' test-jars (handler-native's Root and HostCleanup, handler-cgroups'
     * fixtures, ...). {@link DoNotIncludeTests} only recognises test-classes directories: in a build
     * that packages the modules (verify), the reactor hands this module the test-jar files
     * themselves, and their ITs would be checked as if they were production code.
     */
    public static final class DoNotIncludeTestJars implements ImportOption {
        @Override
        public boolean includes(Location location) {
            return !location.contains("-tests.jar!");
        }
    }

    /**
     * Classes of {@code module} may use their own module, the JDK and libraries, and of
     * io.vmhandler only the {@code allowed} modules.
     */
    private static ArchRule onlyOnModules(String module, String... allowed) {
        String[] own = Stream.concat(Stream.of(module), Arrays.stream(allowed)).toArray(String[]::new);
        return classes().that().resideInAPackage(module)
                .should().onlyDependOnClassesThat(not(resideInAPackage("io.vmhandler..")).or(resideInAnyPackage(own)))
                .because("of io.vmhandler, " + module + " may use only " + Arrays.toString(own)
                        + " (docs/design.md §2)");
    }
}
