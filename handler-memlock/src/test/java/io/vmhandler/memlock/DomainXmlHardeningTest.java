package io.vmhandler.memlock;

import static io.vmhandler.memlock.DomainXmlReaderTest.x86;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks on the domain XML parser, each with a file that would show up in the result if the
 * attack worked. The DOCTYPE refusal stops the entity and DTD attacks on its own; the other
 * hardening settings are defence in depth behind it (see docs/memlock.md, "Mutation testing").
 */
class DomainXmlHardeningTest {
    private static final String SECRET = "4194304-secret-e1f3";
    private final DomainXmlReader reader = new DomainXmlReader(Nvlink2Probe.NONE, "x86_64");

    @Test
    void externalGeneralEntityToALocalFileIsRefused(@TempDir Path dir) throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), SECRET);
        String xml = "<!DOCTYPE domain [<!ENTITY s SYSTEM '" + secret.toUri() + "'>]>"
                + x86("<memory>1048576</memory><description>&s;</description>");
        assertThatThrownBy(() -> reader.parse(xml, "t")).hasMessageContaining("a DOCTYPE is not allowed")
                .hasMessageNotContaining(SECRET);
    }

    @Test
    void externalParameterEntityAndExternalDtdAreRefused(@TempDir Path dir) throws Exception {
        Path dtd = Files.writeString(dir.resolve("e.dtd"), "<!ENTITY m '" + SECRET + "'>");
        String param = "<!DOCTYPE domain [<!ENTITY % p SYSTEM '" + dtd.toUri() + "'> %p;]>"
                + x86("<memory>1048576</memory><description>&m;</description>");
        String external = "<!DOCTYPE domain SYSTEM '" + dtd.toUri() + "'>"
                + x86("<memory>1048576</memory><description>&m;</description>");
        for (String xml : new String[] {param, external}) {
            assertThatThrownBy(() -> reader.parse(xml, "t")).hasMessageContaining("a DOCTYPE is not allowed")
                    .hasMessageNotContaining(SECRET);
        }
    }

    @Test
    void billionLaughsOfTenLevelsIsRefusedAtTheDoctype() {
        StringBuilder dtd = new StringBuilder("<!DOCTYPE domain [<!ENTITY l0 'lol'>");
        for (int i = 1; i <= 10; i++) {
            dtd.append("<!ENTITY l").append(i).append(" '").append(("&l" + (i - 1) + ";").repeat(10)).append("'>");
        }
        String bomb = dtd + "]>" + x86("<memory>1048576</memory><description>&l10;</description>");
        assertThatThrownBy(() -> reader.parse(bomb, "t")).hasMessageContaining("a DOCTYPE is not allowed");
    }

    @Test
    void xincludeIsNotProcessed(@TempDir Path dir) throws Exception {
        Path part = Files.writeString(dir.resolve("memory.xml"), "<memory>4194304</memory>");
        // if the include were followed, <memory> would be there and the total 4194304 KiB
        String xml = "<domain type='kvm' xmlns:xi='http://www.w3.org/2001/XInclude'><name>t</name>"
                + "<xi:include href='" + part.toUri() + "'/></domain>";
        assertThatThrownBy(() -> reader.parse(xml, "t")).hasMessageContaining("memory is missing");
    }

    @Test
    void entityReferencesWithoutADoctypeAreRefusedAsSuch() {
        assertThatThrownBy(() -> reader.parse(x86("<memory>&size;</memory>"), "t"))
                .hasMessageStartingWith("t: entity references are not allowed (line 1)");
        // "The entity name must immediately follow the '&' in the entity reference."
        assertThatThrownBy(() -> reader.parse(x86("<memory>& 1</memory>"), "t"))
                .hasMessageStartingWith("t: entity references are not allowed (line 1)");
    }

    @Test
    void aBadDocumentPrintsNothingOnStderr() {
        // without an error handler of its own the JDK parser prints "[Fatal Error] ..." on System.err;
        // errors must reach the caller only, as the exception
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertThatThrownBy(() -> reader.parse("<domain type='kvm'><memory>1</memory>", "t"))
                    .hasMessageContaining("not well-formed XML");
        } finally {
            System.setErr(saved);
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).isEmpty();
    }
}
