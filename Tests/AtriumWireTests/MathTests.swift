import Testing
@testable import AtriumWire

@Suite struct MathTests {
    @Test func rotateByYawTurnsForwardVector() {
        let q = Quat.yaw(.pi / 2)
        let v = q.rotate(Vec3(0, 0, -1))
        #expect(abs(v.x - -1) < 1e-5 && abs(v.y) < 1e-5 && abs(v.z) < 1e-5)
    }

    @Test func conjugateUndoesRotation() {
        let q = Quat(axis: Vec3(0.6, 0, 0.8), angle: 1.1)
        let r = (q.conjugate * q)
        #expect(Quat.angle(r, .identity) < 1e-3)
    }
}
