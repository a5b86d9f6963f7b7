// Elo arithmetic (src/lib/compete/elo.ts) against examples worked by hand.
import { expect } from "chai";

import { eloFromScore, expectedScore, formatElo, scoreEstimate, updateElo, wilsonInterval } from "../../src/lib/compete/elo.ts";

describe("compete/elo", () => {
  it("expected score and the K = 32 update: 1500 against 1700", () => {
    // E_A = 1 / (1 + 10^(200/400)) = 1 / (1 + 3.16228) = 0.240253; E_B = 1 - E_A.
    expect(expectedScore(1500, 1700)).to.be.closeTo(0.240253, 1e-6);
    expect(expectedScore(1700, 1500)).to.be.closeTo(0.759747, 1e-6);
    expect(expectedScore(1600, 1600)).to.equal(0.5);
    // A wins: 1500 + 32 (1 - 0.240253) = 1524.312, B: 1700 - 24.312 = 1675.688.
    const [a, b] = updateElo(1500, 1700, 1);
    expect(a).to.be.closeTo(1524.312, 1e-3);
    expect(b).to.be.closeTo(1675.688, 1e-3);
    // A draw: 1500 + 32 (0.5 - 0.240253) = 1508.312.
    expect(updateElo(1500, 1700, 0.5)[0]).to.be.closeTo(1508.312, 1e-3);
    // K = 16, A loses: 1500 - 16 * 0.240253 = 1496.156.
    expect(updateElo(1500, 1700, 0, 16)[0]).to.be.closeTo(1496.156, 1e-3);
    // Three games at fixed ratings, 2 points: 1500 + 32 (2 - 3 * 0.240253) = 1540.936.
    expect(updateElo(1500, 1700, 2, 32, 3)[0]).to.be.closeTo(1540.936, 1e-3);
  });

  it("the Elo difference of a score: 400 log10(s / (1 - s))", () => {
    // 0.75: odds 3, 400 log10(3) = 190.849; 0.8: odds 4, 400 log10(4) = 240.824.
    expect(eloFromScore(0.75)).to.be.closeTo(190.849, 1e-3);
    expect(eloFromScore(0.8)).to.be.closeTo(240.824, 1e-3);
    expect(eloFromScore(0.5)).to.equal(0);
    expect(eloFromScore(0.25)).to.be.closeTo(-190.849, 1e-3);
    expect(eloFromScore(1)).to.equal(Infinity);
    expect(eloFromScore(0)).to.equal(-Infinity);
    expect(() => eloFromScore(1.5)).to.throw(RangeError, "Expected a score in [0, 1] but received 1.5");
    // The inverse of expectedScore.
    expect(eloFromScore(expectedScore(1650, 1500))).to.be.closeTo(150, 1e-9);
  });

  it("Wilson 95% interval: 40 of 50", () => {
    // p = 0.8, z = 1.96, z^2/n = 0.076829: centre (0.8 + 0.038415) / 1.076829 = 0.778596,
    // half width 1.96 / 1.076829 * sqrt(0.0032 + 0.0003841) = 0.108967: [0.669629, 0.887562].
    const { low, high } = wilsonInterval(40, 50);
    expect(low).to.be.closeTo(0.669629, 1e-6);
    expect(high).to.be.closeTo(0.887562, 1e-6);
    // All won: the upper end is 1, the lower n / (n + z^2) = 50 / 53.8415 = 0.928652.
    expect(wilsonInterval(50, 50).low).to.be.closeTo(0.928652, 1e-6);
    expect(wilsonInterval(50, 50).high).to.equal(1);
    // None won out of 10: [0, z^2 / (n + z^2)] = [0, 3.8415 / 13.8415] = [0, 0.277533].
    expect(wilsonInterval(0, 10).low).to.equal(0);
    expect(wilsonInterval(0, 10).high).to.be.closeTo(0.277533, 1e-6);
    expect(() => wilsonInterval(3, 0)).to.throw(RangeError, "Expected n > 0 but received 0");
  });

  it("a record's score, interval and Elo difference (draws count half)", () => {
    // 36 wins, 6 losses, 8 draws: (36 + 4) / 50 = 0.8, as 40 of 50 above: Elo +240.8 in [+122.7, +358.9].
    const e = scoreEstimate({ wins: 36, losses: 6, draws: 8 });
    expect(e.games).to.equal(50);
    expect(e.score).to.be.closeTo(0.8, 1e-12);
    expect(e.elo).to.be.closeTo(240.824, 1e-3);
    expect(e.eloLow).to.be.closeTo(122.733, 1e-3);
    expect(e.eloHigh).to.be.closeTo(358.915, 1e-3);
    const all = scoreEstimate({ wins: 50, losses: 0, draws: 0 });
    expect(all.elo).to.equal(Infinity);
    expect(all.eloHigh).to.equal(Infinity);
    // 400 log10(0.928652 / 0.071348) = 445.79.
    expect(all.eloLow).to.be.closeTo(445.79, 0.01);
    expect([formatElo(all.elo), formatElo(-all.elo), formatElo(e.elo), formatElo(-0.2)]).to.deep.equal(["+inf", "-inf", "+241", "0"]);
  });
});
