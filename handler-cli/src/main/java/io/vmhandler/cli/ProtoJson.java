package io.vmhandler.cli;

import io.vmhandler.core.json.Json;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Proto messages as ordered maps for {@link Json}, with every field present (defaults included) and
 * proto3 JSON names, so scripts see a stable shape. (protobuf-java-util's JsonFormat would add a jar for
 * this one use.)
 */
final class ProtoJson {
    private ProtoJson() {}

    static Map<String, Object> toMap(Message m) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (FieldDescriptor f : m.getDescriptorForType().getFields()) {
            Object v = m.getField(f);
            if (f.isRepeated()) {
                List<Object> l = new ArrayList<>();
                for (Object e : (List<?>) v) {
                    l.add(value(f, e));
                }
                out.put(f.getJsonName(), l);
            } else {
                out.put(f.getJsonName(), value(f, v));
            }
        }
        return out;
    }

    private static Object value(FieldDescriptor f, Object v) {
        if (v instanceof Message msg) {
            return toMap(msg);
        }
        if (v instanceof EnumValueDescriptor e) {
            return e.getName();
        }
        if (f.getType() == FieldDescriptor.Type.UINT64 || f.getType() == FieldDescriptor.Type.FIXED64) {
            long l = (Long) v;
            return l >= 0 ? (Object) l : Long.toUnsignedString(l);
        }
        if (f.getType() == FieldDescriptor.Type.UINT32 || f.getType() == FieldDescriptor.Type.FIXED32) {
            return Integer.toUnsignedLong((Integer) v);
        }
        return v;
    }
}
