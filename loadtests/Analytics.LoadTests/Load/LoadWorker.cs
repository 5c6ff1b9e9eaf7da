using System.Buffers;
using System.Text.Json;

namespace Analytics.LoadTests.Load;

/// <summary>A hit a request carries: indexes into the catalog, and its day when the sender fixes it (a batch's ts).</summary>
internal readonly record struct PendingHit(int Site, int Page, int Referrer, DateOnly? Day);

/// <summary>One concurrent sender: its random source, ledger and reusable buffers (never shared between workers).</summary>
internal sealed class LoadWorker
{
    public LoadWorker(int id, LoadCatalog catalog)
    {
        Id = id;
        Catalog = catalog;
        Random = new Random(HashCode.Combine(id, Environment.TickCount64));
        Writer = new Utf8JsonWriter(Body);
    }

    public int Id { get; }

    public LoadCatalog Catalog { get; }

    public Random Random { get; }

    public HitLedger Ledger { get; } = new();

    /// <summary>The hits of the request being sent.</summary>
    public List<PendingHit> Pending { get; } = new(128);

    public ArrayBufferWriter<byte> Body { get; } = new(16 * 1024);

    public Utf8JsonWriter Writer { get; }

    public int PickSite() => Random.Next(Catalog.Sites.Count);

    /// <summary>Popular pages are popular: the square of a uniform number leans to the first pages.</summary>
    public int PickPage()
    {
        var u = Random.NextDouble();
        return Math.Min(Catalog.Pages - 1, (int)(u * u * Catalog.Pages));
    }

    public int PickReferrer() => Random.Next(LoadCatalog.Referrers.Length);

    /// <summary>0: with tracking parameters, 1: www. and a fragment, else plain (see <see cref="LoadCatalog.PageUrl"/>).</summary>
    public int PickVariant() => Random.Next(5);

    /// <summary>Starts a fresh JSON body in <see cref="Body"/>.</summary>
    public Utf8JsonWriter StartBody()
    {
        Body.ResetWrittenCount();
        Writer.Reset(Body);
        return Writer;
    }
}
